"""What the archivist returns for one contact's new memory rows."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Kind = Literal["preference", "commitment", "open_question"]
Topic = Literal[
    "contact_channel",
    "meeting_time",
    "language",
    "invoicing",
    "billing",
    "delivery",
    "deadline",
    "pricing",
    "account",
    "product",
    "other",
]
"""A closed list, so two mentions of one subject meet under one topic (and may contradict)."""


class FactDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Kind
    """preference (how or when they like things), commitment (what was promised, by whom),
    open_question (asked and not yet answered)."""
    topic: Topic
    """What the fact is about; `other` when no topic fits."""
    about: Literal["contact", "company"]
    """Whether it holds for this person only or for their whole company."""
    project: str = Field(max_length=60)
    """The project it concerns, in a few words ("website redesign"), or empty."""
    statement: str = Field(min_length=1, max_length=200)
    """One short sentence in the third person, as stated in the records."""
    source: int = Field(ge=1, le=200)
    """The number of the record it comes from."""


class Extraction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    facts: list[FactDraft] = Field(max_length=8)
    """Durable facts only; an empty list when the records hold none."""
