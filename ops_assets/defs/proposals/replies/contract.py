"""What the answer reader returns: how the client answered our proposal, and (for a request
for changes) what they want changed, in their words. No prices: a revision is priced from the
catalogue by code like every version."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Outcome = Literal["accepted", "declined", "revision_requested", "question"]
Change = Annotated[str, Field(min_length=1, max_length=200)]


class ClientAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Outcome
    """accepted: they take the proposal as it stands; declined: they will not go ahead;
    revision_requested: they want the proposal changed; question: anything else they ask."""
    changes: list[Change] = Field(default_factory=list, max_length=8)
    """For a revision: each change they ask for, one short sentence each; else empty."""
    summary: str = Field(min_length=1, max_length=300)
    """One sentence for the owner: what the client said."""
