"""`intake.http` in the config: the tools and forms allowed to post work items to
`POST /intake` (opsbench/intake_http.py), each with its own bearer token."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

ContractField = Literal["from", "subject", "body", "to", "message_id", "received_at"]
SourceName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")]


class HttpSource(BaseModel):
    """One tool or form allowed to post work items."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """The environment variable holding this source's bearer token (unset: nothing passes)."""
    mapping: dict[ContractField, str] = Field(default_factory=dict)
    """Work-item field -> the posted JSON field that fills it (`from: email`); the posted
    fields not named here are kept with the item as extra data."""


class HttpIntake(BaseModel):
    """`intake.http` in the config."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sources: dict[SourceName, HttpSource] = Field(default_factory=dict)
    max_bytes: int = Field(default=1_000_000, gt=0, le=25_000_000)
    """The largest request body taken; a larger one is answered 413 and never read whole."""
