"""The proposals workflow's nudge keys: how many business days in the owner's time zone a
sent proposal may go unanswered before a nudge is drafted for the owner, and how many nudges
before the deal is `stalled`. A small model of its own so the config's `proposals:` section
can hold it with one line (`nudges: ProposalNudges = ProposalNudges()`); until then the
defaults apply. Imports nothing of the config (the config imports it)."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ProposalNudges(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    after_business_days: int = Field(default=3, ge=1, le=30)
    """N: business days (Monday to Friday in identity.timezone) without an answer."""
    max_nudges: int = Field(default=2, ge=0, le=5)
    """K: nudges per sent proposal; N business days after the last, the deal is stalled."""


def nudge_settings(config: Any) -> ProposalNudges:
    """The config's `proposals.nudges`, or the defaults while the config has no such key."""
    found = getattr(getattr(config, "proposals", None), "nudges", None)
    if isinstance(found, ProposalNudges):
        return found
    if isinstance(found, dict):
        return ProposalNudges.model_validate(found)
    return ProposalNudges()
