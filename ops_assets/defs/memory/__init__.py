"""Episodic memory in LanceDB."""

from resources.scopes import declare_scopes

SCOPES = declare_scopes("memory", {"memory:write"})
