"""The proposals workflow's planner: a bounded plan for each briefed lead."""

from resources.scopes import declare_scopes

SCOPES = declare_scopes("proposal_plan", {"model"})
