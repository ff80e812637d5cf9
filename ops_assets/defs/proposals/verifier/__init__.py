"""The proposals workflow's verifier: each version judged against the plan and by code."""

from resources.scopes import declare_scopes

SCOPES = declare_scopes("proposal_verdict", {"model"})
