"""Review: a verifier agent scores each draft against a rubric; revisions go back for repair."""

SCOPES = frozenset({"model", "memory:read"})
