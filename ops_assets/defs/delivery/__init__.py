"""Delivery through the connectors, exactly once."""

from resources.scopes import declare_scopes

SCOPES = declare_scopes(
    "delivery", {"connector:outbox", "connector:smtp", "connector:webhook", "connector:imap_drafts"}
)
