"""What the context agent returns for one lead."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Need = Annotated[str, Field(min_length=1, max_length=160)]


class LeadBrief(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_name: str = Field(default="", max_length=80)
    """The person asking, as they sign; empty when unknown."""
    company: str = Field(default="", max_length=120)
    """Their organisation; empty when unknown."""
    needs: list[Need] = Field(default_factory=list, max_length=6)
    """What they want done, one short phrase each, in their terms."""
    budget_hint: str = Field(default="", max_length=120)
    """What they said about budget, quoted; never a price of ours."""
    deadline_hint: str = Field(default="", max_length=120)
    """What they said about timing, quoted."""
