"""What the executor returns: prose, and which services in what quantity. No amounts: every
price is the catalogue's, applied by code (`pricing.py`)."""

from pydantic import BaseModel, ConfigDict, Field


class ScopeSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    heading: str = Field(min_length=1, max_length=80)
    text: str = Field(min_length=1, max_length=400)
    """What is delivered under this heading, in plain language; no prices or dates."""


class LineChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=32)
    """A service code from the catalogue."""
    quantity: int = Field(ge=1, le=1000)
    """How many of the service's unit."""
    unit_price: float | None = None
    """Ignored: code prices every line from the catalogue (a differing value is corrected and
    recorded)."""


class ProposalDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=120)
    summary: str = Field(min_length=1, max_length=400)
    """Two or three sentences: what the client gets and why it fits what they asked."""
    scope: list[ScopeSection] = Field(min_length=1, max_length=5)
    lines: list[LineChoice] = Field(min_length=1, max_length=8)
    start_in_days: int = Field(ge=0, le=365)
    """When work could start, in days from today (code keeps it at or after the earliest)."""
    duration_weeks: int = Field(ge=1, le=52)
    cover_mail: str = Field(min_length=1, max_length=800)
    """The short mail the PDF goes with: greeting by name, no signature, no prices."""
