"""The proposals workflow's nudges: a sent proposal unanswered for N business days gets a
suggested nudge drafted for the owner (the reply follow-up path), at most K, then the deal is
stalled."""

from resources.scopes import declare_scopes

SCOPES = declare_scopes("proposal_nudges", {"connector:crm", "memory:write"})
