"""The proposals workflow's context agent: what the CRM holds about a lead, summarised."""

from resources.scopes import declare_scopes

SCOPES = declare_scopes("proposal_context", {"model"})
