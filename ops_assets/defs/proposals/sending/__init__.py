"""The proposals workflow's delivery: an approved proposal by mail with its PDF, once."""

from resources.scopes import declare_scopes

SCOPES = declare_scopes(
    "proposal_delivery", {"connector:smtp", "connector:outbox", "connector:crm"}
)
