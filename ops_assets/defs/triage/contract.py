"""What triage returns for one item."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Category = Literal["billing", "support", "sales", "spam", "other"]


class TriageResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: Category
    """billing, support, sales, spam or other: decides the route."""
    summary: str = Field(max_length=200)
    """One sentence on what the sender wants."""
    customer_name: str = Field(max_length=80)
    """The sender's name as written in the mail, or empty."""
    company: str = Field(max_length=80)
    """The sender's company if named, or empty."""
    amount: str = Field(max_length=40)
    """A money amount mentioned, digits only, or empty."""
    question: str = Field(max_length=200)
    """The question to answer, in the sender's words, or empty."""
