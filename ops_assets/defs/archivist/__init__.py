"""The archivist: consolidates new episodic rows into facts per contact and company."""

SCOPES = frozenset({"model", "memory:read", "memory:write"})
