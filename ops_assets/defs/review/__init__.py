"""Review: a verifier agent scores each draft against a rubric; revisions go back for repair."""

from resources.scopes import declare_scopes

SCOPES = declare_scopes("review", {"model", "memory:read"})
