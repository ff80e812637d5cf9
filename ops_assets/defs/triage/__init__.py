"""Triage: category, summary and fields for every item of a batch."""

SCOPES = frozenset({"model"})
