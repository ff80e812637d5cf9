"""What the verifier's model returns: a verdict per plan step, with the evidence."""

from pydantic import BaseModel, ConfigDict, Field


class CriterionVerdict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: int = Field(ge=1, le=12)
    """The plan step judged (its number)."""
    met: bool
    """Does the proposal meet this step's success criterion?"""
    evidence: str = Field(default="", max_length=240)
    """A short quote from the proposal that shows it, or what is missing."""


class CriterionVerdicts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdicts: list[CriterionVerdict] = Field(default_factory=list, max_length=8)
