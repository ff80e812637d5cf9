"""Episodic memory in LanceDB."""

SCOPES = frozenset({"memory:write"})
