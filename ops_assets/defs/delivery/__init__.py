"""Delivery through the connectors, exactly once."""

SCOPES = frozenset({"connector:outbox", "connector:smtp", "connector:webhook"})
