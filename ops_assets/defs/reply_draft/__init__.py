"""Reply drafting in the owner's voice, checked row by row."""

SCOPES = frozenset({"model", "memory:read"})
