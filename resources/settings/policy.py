"""The policy file — rules per action, budgets, scopes, sender authentication — as settings:
loaded and validated by pydantic here, decided on in ops_assets/governance/policy.py."""

import hashlib
import os
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from resources.settings.config import ConfigError, read_mapping
from resources.settings.environment import environment

SAMPLE_POLICY = Path(__file__).with_name("sample_policy.yaml")
Verdict = Literal["auto", "needs_approval", "forbidden"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Conditions(_Strict):
    """All given conditions must hold; an absent one is not considered."""

    category: list[str] | None = None
    urgency: list[str] | None = None
    unknown_recipient_domain: bool | None = None
    first_contact: bool | None = None
    money_mentioned: bool | None = None
    amount_above: float | None = None
    attachments: bool | None = None
    flagged: bool | None = None
    follow_up: bool | None = None
    meeting_invite: bool | None = None


class Rule(_Strict):
    name: str = Field(min_length=1, pattern=r"^[a-z0-9_]+$")
    when: Conditions
    then: Verdict


class ActionPolicy(_Strict):
    default: Verdict = "needs_approval"
    rules: list[Rule] = Field(default_factory=list)


class Budgets(_Strict):
    daily_usd: float = Field(default=5.0, ge=0)
    per_workflow_usd: dict[str, float] = Field(default_factory=dict)
    on_exhausted: Literal["defer", "human", "cheaper_model"] = "defer"
    cheaper_model: str | None = None


class SenderAuthentication(_Strict):
    """Which Authentication-Results headers count, and what their absence means."""

    authserv_ids: list[str] = Field(default_factory=list)
    """The receiving server's id in its Authentication-Results; empty = the topmost header."""
    require: bool = False
    """True: mail without a header from those servers counts as unauthenticated."""


class Policy(_Strict):
    known_domains: list[str] = Field(default_factory=list)
    sender_authentication: SenderAuthentication = SenderAuthentication()
    actions: dict[str, ActionPolicy] = Field(default_factory=dict)
    budgets: Budgets = Budgets()
    scopes: dict[str, list[str]] = Field(default_factory=dict)
    version: str = ""

    def action(self, name: str) -> ActionPolicy:
        # An action the file does not mention is never automatic.
        return self.actions.get(name, ActionPolicy())


def policy_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    chosen = explicit or environment().policy
    return Path(chosen) if chosen else SAMPLE_POLICY


@cache
def _load(path: Path, mtime_ns: int) -> Policy:
    text, raw = read_mapping(path, "policy")
    version = "policy-" + hashlib.sha256(text.encode()).hexdigest()[:12]
    try:
        return Policy.model_validate({**raw, "version": version})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"invalid policy {path}: {problems}") from exc


def load_policy(explicit: str | os.PathLike[str] | None = None) -> Policy:
    path = policy_path(explicit)
    return _load(path, path.stat().st_mtime_ns if path.exists() else 0)
