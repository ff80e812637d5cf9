"""What the planner returns: a bounded plan, each step with its success criterion."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

StepKind = Literal["question", "scope", "timeline", "price_basis"]


class PlanStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: StepKind
    """A clarifying question, a scope item, the timeline, or the basis of the price."""
    description: str = Field(min_length=1, max_length=240)
    """What the proposal does for this step."""
    success_criterion: str = Field(min_length=1, max_length=240)
    """How the verifier tells the proposal met this step (one checkable sentence)."""


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    steps: list[PlanStep] = Field(min_length=1, max_length=8)
    """3 to 7 steps (the suite says so, so a plan out of bounds reaches the owner with a reason
    instead of failing as a malformed answer)."""
