"""The operator's configuration file: one pydantic model, validated with clear errors.

Read at run time (never at import time): the CLI, sensors and run workers all call
`load_config`, which takes `--config`/`OPSBENCH_CONFIG` or falls back to the sample.
"""

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from resources.connectors.imap_config import ImapAccount
from resources.settings.environment import environment
from resources.settings.http_intake import HttpIntake
from resources.settings.proposals import ProposalNudges

SAMPLE_CONFIG = Path(__file__).with_name("sample_config.yaml")
CATEGORIES = ("billing", "support", "sales", "spam", "other")


class ConfigError(Exception):
    """The configuration file is missing, unreadable or invalid; the message says where."""


def known_zone(value: str) -> str:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone: {value!r}") from exc
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Identity(_Strict):
    business_name: str = Field(min_length=1)
    owner_name: str = Field(min_length=1)
    owner_addresses: list[str] = Field(min_length=1)
    """The owner's own addresses: mail from them is never answered."""
    reply_from: str
    signature: str
    tone: str
    policies: list[str] = Field(default_factory=list)
    timezone: str = "UTC"
    """The owner's IANA time zone: their day, and so a spent budget's, ends at its midnight."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)

    @field_validator("owner_addresses", mode="after")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        for address in value:
            if address.count("@") != 1:
                raise ValueError(f"not an email address: {address!r}")
        return [a.lower() for a in value]


class Intake(_Strict):
    max_bytes: int = Field(default=1_000_000, gt=0)
    max_body_chars: int = Field(default=20_000, gt=0)
    settle_s: float = Field(default=1.0, ge=0)
    max_files_per_tick: int = Field(default=200, gt=0)
    maildirs: list[str] = Field(default_factory=list)
    imap: list[ImapAccount] = Field(default_factory=list)
    """IMAP accounts read each tick (resources/connectors/imap_config.py)."""
    http: HttpIntake = HttpIntake()
    """Sources allowed to `POST /intake` (resources/settings/http_intake.py)."""


class StoreSettings(_Strict):
    url: str | None = Field(default=None, pattern=r"^(sqlite|postgresql)(\+\w+)?://")
    """None: SQLite in the home (store.sqlite). `postgresql+psycopg://user@host/db` for
    Postgres; a password belongs in OPSBENCH_STORE_URL, which wins over this."""


class Batching(_Strict):
    max_items: int = Field(default=25, gt=0, le=10_000)
    max_wait_s: float = Field(default=5.0, ge=0)


class Concurrency(_Strict):
    model_calls: int | None = Field(default=None, gt=0, le=1024)
    """None = what the endpoint serves (1 for the local server, 4 elsewhere)."""


class Price(_Strict):
    input: float = Field(ge=0)
    output: float = Field(ge=0)


class AgentModel(_Strict):
    """The model one agent (or model profile) calls, and optionally where: a `--llm` spec
    (`local`, `scripted`, an http(s) base URL); None = the endpoint the workbench runs on."""

    model: str | None = None
    """None = the endpoint's own default model."""
    endpoint: str | None = Field(default=None, pattern=r"^(local|scripted|replay:.+|https?://.+)$")
    max_tokens: int | None = Field(default=None, gt=0, le=8192)
    """The longest answer this agent may be paid for; None = what the agent needs (its
    workflow's answer_tokens) or `llm.max_tokens`, whichever is more."""


class LLM(_Strict):
    model: str | None = None
    max_tokens: int = Field(default=400, gt=0, le=8192)
    temperature: float = Field(default=0.0, ge=0, le=2)
    max_input_chars: int = Field(default=6000, ge=200)
    """Longest mail body put into a prompt (the local model reads 4,096 tokens in all)."""
    prices: dict[str, Price] = Field(default_factory=dict)
    models: dict[str, AgentModel] = Field(default_factory=dict)
    """Per agent (asset name) or model profile (`small`, `large`, as a workflow declares per
    agent): its model and endpoint. Absent: every agent on `model` at the one endpoint."""

    @field_validator("models", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        # `reply_draft: gpt-4o` says the model only.
        if isinstance(value, dict):
            return {k: {"model": v} if isinstance(v, str) else v for k, v in value.items()}
        return value


class Quality(_Strict):
    max_failure_rate: float = Field(default=0.5, ge=0, le=1)
    min_reply_chars: int = Field(default=40, ge=1)
    max_reply_chars: int = Field(default=2500, ge=1)
    max_revisions: int = Field(default=2, ge=0, le=5)
    """Repairs the reviewer may ask for before a draft goes to the owner."""


class Outbox(_Strict):
    enabled: bool = True
    rate_per_minute: int | None = Field(default=None, gt=0)


class Smtp(_Strict):
    """Replies by SMTP instead of the file outbox when enabled."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=25, gt=0, lt=65536)
    starttls: bool = False
    ssl: bool = False
    username: str | None = None
    password_env: str = "OPSBENCH_SMTP_PASSWORD"  # noqa: S105
    """The password is read from this environment variable at send time, never stored."""
    timeout_s: float = Field(default=30.0, gt=0)
    rate_per_minute: int | None = Field(default=30, gt=0)


class Webhook(_Strict):
    """Pushes outcomes to another system."""

    url: str | None = Field(default=None, pattern=r"^https?://")
    """http(s) only: nothing else is a webhook (the connector posts with httpx, no redirects)."""
    secret_env: str = "OPSBENCH_WEBHOOK_SECRET"  # noqa: S105
    timeout_s: float = Field(default=10.0, gt=0)
    max_retries: int = Field(default=3, ge=0, le=10)
    backoff_s: float = Field(default=0.5, ge=0)
    rate_per_minute: int | None = Field(default=60, gt=0)
    push_outcomes: bool = True


class Connectors(_Strict):
    outbox: Outbox = Outbox()
    smtp: Smtp = Smtp()
    webhook: Webhook = Webhook()
    sandbox: bool = False
    """Capture every send under <home>/sandbox/ instead of sending it."""
    confirm_timeout_s: float = Field(default=3600.0, gt=0)
    """An approved reply not confirmed this long after its intent goes to the owner."""


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WORKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")


class Availability(_Strict):
    """When the owner takes meetings: invites propose the first free slots in these hours."""

    timezone: str = "UTC"
    days: list[Weekday] = Field(default_factory=lambda: list(WORKDAYS))
    start: str = Field(default="09:00", pattern=r"^\d{2}:\d{2}$")
    end: str = Field(default="17:00", pattern=r"^\d{2}:\d{2}$")
    slot_minutes: int = Field(default=30, ge=10, le=240)
    slots_offered: int = Field(default=3, ge=1, le=10)
    lead_hours: float = Field(default=24.0, ge=0)
    """No slot sooner than this after the reply is reviewed."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)


class FollowUps(_Strict):
    """A nudge for replies that got no answer (drafted, reviewed and approved like any reply)."""

    enabled: bool = True
    after_days: float = Field(default=3.0, gt=0)
    max_per_run: int = Field(default=20, gt=0)
    hour: int = Field(default=9, ge=0, le=23)
    """The hour of the owner's day (identity.timezone) when follow-ups are made."""


class MemorySettings(_Strict):
    """Episodic memory, consolidated facts and what agents may read of them."""

    embedder: str = "local"
    """local (the embedded all-MiniLM-L6-v2) | hashing (test double) | http(s)://host/v1."""
    embedding_model: str | None = None
    """The model name for an embeddings endpoint (for `local` it is all-MiniLM-L6-v2)."""
    top_k: int = Field(default=8, ge=1, le=50)
    """At most this many memory rows (facts first, then past episodes) per prompt."""
    budgets: dict[str, int] = Field(default_factory=lambda: {"reply_draft": 600, "review": 300})
    """Tokens of memory an agent's prompt may carry (an agent not listed gets none)."""
    keep_versions_days: float = Field(default=90.0, gt=0)
    """Past table versions stay reachable this long (an erase drops them at once)."""
    archivist_max_rows: int = Field(default=30, ge=1, le=200)
    """New episodic rows of one contact read in one consolidation call."""
    duplicate_similarity: float = Field(default=0.92, gt=0, le=1)
    """Facts on one topic at least this similar (cosine) are the same fact."""
    max_duplicate_rate: float = Field(default=0.0, ge=0, le=1)
    """The archivist's check fails above this share of duplicate active facts."""
    lock_wait_s: float = Field(default=60.0, ge=0, le=3600)
    """A memory writer that finds another one writing waits this long for it, then leaves
    its work to the next run."""


class Deferral(_Strict):
    """When deferred work is tried again on its own (a spent budget: when its day ends)."""

    model_backoff_s: float = Field(default=60.0, gt=0)
    """First wait after a model outage; doubled for every probe or try that fails again."""
    model_backoff_max_s: float = Field(default=3600.0, gt=0)
    """The longest wait between two tries of an unavailable model."""


class Notifications(_Strict):
    """A digest to the owner when items start waiting (observability/notifications.py)."""

    enabled: bool = True
    digest_minutes: float = Field(default=15.0, gt=0)
    """At most one digest per this many minutes; what happens meanwhile waits for the next."""
    email_to: str | None = None
    """Where the digest goes; None = the first of identity.owner_addresses. By SMTP when
    connectors.smtp is enabled, else written to <home>/notifications/ as .eml files."""
    console_url: str = Field(default="http://127.0.0.1:3000/desk", pattern=r"^https?://")
    """The desk's address the digest links to (the port `opsbench run --port` serves)."""
    max_subjects: int = Field(default=20, ge=0, le=200)
    """Subjects listed per group in the mail (the counts are always whole)."""
    webhook_url: str | None = Field(default=None, pattern=r"^https?://")
    """Also POST the digest here as JSON (ids, counts, reason codes, a `text` line: ntfy- and
    Slack-style incoming hooks take it as it is)."""
    webhook_secret_env: str = "OPSBENCH_NOTIFY_WEBHOOK_SECRET"  # noqa: S105
    """Sent as `Authorization: Bearer ...` when this environment variable is set."""


Category = Literal["billing", "support", "sales", "spam", "other"]
Route = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
"""`human`, `no_action` or a workflow's name (`reply_draft`, `proposals`...). Which workflows
exist is known in ops_assets, which refuses an unknown one before triage moves anything
(ops_assets/orchestration/workflows.py: check_routing)."""


class ProposalSettings(_Strict):
    catalogue: str | None = None
    """The service catalogue and rate card (YAML); None = <home>/proposals/catalogue.yaml if
    it exists, else the bundled sample."""
    nudges: ProposalNudges = ProposalNudges()
    """When a sent proposal nobody answered gets a nudge drafted for the owner, and how often."""


class Config(_Strict):
    identity: Identity
    routing: dict[Category, Route]
    intake: Intake = Intake()
    store: StoreSettings = StoreSettings()
    batching: Batching = Batching()
    concurrency: Concurrency = Concurrency()
    llm: LLM = LLM()
    quality: Quality = Quality()
    connectors: Connectors = Connectors()
    follow_ups: FollowUps = FollowUps()
    availability: Availability = Availability()
    memory: MemorySettings = MemorySettings()
    deferral: Deferral = Deferral()
    notifications: Notifications = Notifications()
    proposals: ProposalSettings = ProposalSettings()
    policy_file: str | None = None
    """The governance policy (rules, budgets, scopes); None = OPSBENCH_POLICY or the sample."""

    def route_for(self, category: str) -> str:
        """Where an item of this category goes; unrouted categories wait for the owner."""
        for known, route in self.routing.items():
            if known == category:
                return route
        return "human"


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """--config, then OPSBENCH_CONFIG, then the bundled sample."""
    chosen = explicit or environment().config
    return Path(chosen) if chosen else SAMPLE_CONFIG


def read_mapping(path: Path, kind: str) -> tuple[str, dict[str, Any]]:
    """A YAML file's text and its top-level mapping; a ConfigError naming `kind` otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
        raw = yaml.safe_load(text)
    except FileNotFoundError as exc:
        raise ConfigError(f"{kind} file not found: {path}") from exc
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {kind} file {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{kind} file {path} must hold a mapping at the top level")
    return text, raw


def load_config(explicit: str | os.PathLike[str] | None = None) -> Config:
    path = config_path(explicit)
    _, raw = read_mapping(path, "config")
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid config {path}: {problems}") from exc
