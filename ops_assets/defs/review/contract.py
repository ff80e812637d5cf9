"""What the reviewer returns for one draft: a verdict, rubric reasons, and feedback."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Verdict = Literal["pass", "revise", "human"]
# The rubric, one code per criterion a draft can miss.
Reason = Literal[
    "unanswered",  # does not answer what the sender asked
    "tone",  # does not sound like the persona
    "commitment",  # promises refunds, discounts, prices or dates outside policy
    "contradicts_memory",  # says something that contradicts what we know
    "secret",  # reveals or asks for secrets
    "other",
]


class Review(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: Verdict
    """pass: send as is; revise: fixable, say how; human: the owner must decide."""
    reasons: list[Reason] = Field(max_length=6)
    """The rubric criteria the draft misses (empty when it passes)."""
    feedback: str = Field(max_length=600)
    """For revise: what to change, concretely. Otherwise empty or a short note."""
