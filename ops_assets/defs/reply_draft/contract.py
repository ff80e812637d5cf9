"""What the reply drafter returns for one item."""

from pydantic import BaseModel, ConfigDict, Field


class ReplyDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=1500)
    """The reply's text without greeting headers, subject line or signature."""
