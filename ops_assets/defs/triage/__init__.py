"""Triage: category, summary and fields for every item of a batch."""

from resources.scopes import declare_scopes

SCOPES = declare_scopes("triage", {"model"})
