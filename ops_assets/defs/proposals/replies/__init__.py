"""The proposals workflow's answer reader: a client's reply to a proposal we sent becomes
accepted, declined, a request for changes (a new version) or a question for the owner."""

from resources.scopes import declare_scopes

SCOPES = declare_scopes("proposal_answer", {"model", "connector:crm", "memory:write"})
