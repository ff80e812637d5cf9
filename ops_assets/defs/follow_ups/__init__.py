"""Follow-ups: replies unanswered for `follow_ups.after_days` become work items of a batch of
their own (triaged by code, then drafted, reviewed and gated like any mail)."""

from resources.scopes import declare_scopes

SCOPES = declare_scopes("follow_ups", set())
