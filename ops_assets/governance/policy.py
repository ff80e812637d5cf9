"""The policy file: rules per action, budgets and scopes, validated by pydantic.

Decisions are made from structured facts that code computes (category, recipient domain,
amounts, flags) — never from the text of a message or a model's output.
"""

import hashlib
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ops_assets.config import ConfigError

SAMPLE_POLICY = Path(__file__).with_name("sample_policy.yaml")
Verdict = Literal["auto", "needs_approval", "forbidden"]
SEVERITY = {"auto": 0, "needs_approval": 1, "forbidden": 2}


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


@dataclass(frozen=True)
class Facts:
    """What the policy may look at, computed by code from structured fields."""

    category: str | None
    urgency: str | None
    unknown_recipient_domain: bool
    first_contact: bool
    money_mentioned: bool
    amount: float | None
    attachments: bool
    flagged: bool
    follow_up: bool = False
    meeting_invite: bool = False


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    rule: str
    policy_version: str


def _matches(when: Conditions, facts: Facts) -> bool:
    checks = [
        when.category is None or facts.category in when.category,
        when.urgency is None or facts.urgency in when.urgency,
        when.unknown_recipient_domain is None
        or facts.unknown_recipient_domain == when.unknown_recipient_domain,
        when.first_contact is None or facts.first_contact == when.first_contact,
        when.money_mentioned is None or facts.money_mentioned == when.money_mentioned,
        when.amount_above is None or (facts.amount or 0) > when.amount_above,
        when.attachments is None or facts.attachments == when.attachments,
        when.flagged is None or facts.flagged == when.flagged,
        when.follow_up is None or facts.follow_up == when.follow_up,
        when.meeting_invite is None or facts.meeting_invite == when.meeting_invite,
    ]
    return all(checks)


def decide(policy: Policy, action: str, facts: Facts) -> Decision:
    rules = policy.action(action)
    decision = Decision(rules.default, "default", policy.version)
    for rule in rules.rules:
        if _matches(rule.when, facts) and SEVERITY[rule.then] > SEVERITY[decision.verdict]:
            decision = Decision(rule.then, rule.name, policy.version)
    return decision


def policy_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    chosen = explicit or os.environ.get("OPSBENCH_POLICY")
    return Path(chosen) if chosen else SAMPLE_POLICY


@cache
def _load(path: Path, mtime_ns: int) -> Policy:
    try:
        text = path.read_text(encoding="utf-8")
        raw = yaml.safe_load(text)
    except FileNotFoundError as exc:
        raise ConfigError(f"policy file not found: {path}") from exc
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read policy file {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"policy file {path} must hold a mapping at the top level")
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
