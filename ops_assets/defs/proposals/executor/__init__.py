"""The proposals workflow's executor: a scope of work priced from the catalogue by code."""

from resources.scopes import declare_scopes

SCOPES = declare_scopes("proposal_draft", {"model"})
