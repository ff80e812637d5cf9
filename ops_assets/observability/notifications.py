"""Notifications that reach the owner: a digest of what started waiting since the last one.

What counts: items that came to rest waiting for the owner (approval, escalation, a held or
failed send, a spent budget, deferred work) — read from the store's audit log after the last
digest's watermark, and still waiting now — and the alerts written since (failed runs and
checks, failed sends). They go, grouped with counts and subjects, to the owner's address (SMTP
when enabled, else `<home>/notifications/*.eml`) and, when configured, as JSON to a webhook.

Debounced: at most one digest per `notifications.digest_minutes`. Delivered once: each digest
is a numbered pseudo-item (`digest-<n>`) whose sends go through the delivery ledger, so a
crash after the intent sends it on the next tick, and a crash after an SMTP attempt leaves it
"unconfirmed" rather than sending it twice. The watermark (digest number, audit id, alert
time, when it was sent) lives in the store's controls, written once the digest is out.

Never a secret: subjects pass through the secret patterns of `governance/secrets.py` and
lose their control characters; the webhook carries ids, counts and reason codes only.
"""

import datetime as dt
import email.message
import email.policy
import email.utils
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from ops_assets.defs.delivery import ledger
from ops_assets.governance.secrets import PATTERNS
from ops_assets.observability.alerts import read_alerts, write_alert
from resources.connectors.base import Connector, Sandbox
from resources.connectors.outbox import FileOutbox
from resources.connectors.smtp import SmtpConnector
from resources.connectors.webhook import WebhookConnector, json_payload
from resources.settings.config import Config
from resources.settings.environment import secret_value
from resources.settings.home import Home
from resources.store import Store
from resources.store import schema as t
from resources.store.deliveries import OWNER_DIGEST

CONTROL = "notifications.digest"
PURPOSE = OWNER_DIGEST  # the store keeps it out of "domains we replied to"
# Where `opsbench run` last served the desk (workbench.py writes it): the digest's link when
# the config names none.
CONSOLE_CONTROL = "workbench.console_url"
WAITING = ("awaiting_approval", "awaiting_human", "deferred")
# Group, and its heading in the mail, in the order the mail lists them.
GROUPS = {
    "approval": "Waiting for your approval",
    "escalation": "Waiting for you",
    "held_send": "Sends unconfirmed or failed",
    "budget": "Held by a spent budget",
    "deferred": "Deferred",
    "failure": "Runs or checks failed",
    "intake": "Mail not taken in",
}
OWN_ALERT = "notification_failed"  # never itself the reason for a digest


@dataclass(frozen=True)
class Entry:
    id: str
    """An item id, a run id or a delivery id: never text from a message."""
    reason_code: str | None
    subject: str | None = None
    """Only for the mail, redacted; the webhook never carries it."""


@dataclass
class Digest:
    number: int
    audit_to: int
    alerts_to: str
    since: str | None
    groups: dict[str, list[Entry]] = field(default_factory=dict)
    console_url: str = ""
    """Where the desk is (`console_url()`), for the mail's and the webhook's link."""

    @property
    def item_id(self) -> str:
        return f"digest-{self.number}"

    def counts(self) -> dict[str, int]:
        return {g: len(entries) for g, entries in self.groups.items() if entries}

    def total(self) -> int:
        return sum(self.counts().values())


@dataclass
class Outcome:
    sent: bool
    reason: str
    number: int | None = None
    results: dict[str, str] = field(default_factory=dict)


def redact(text: str, limit: int = 120) -> str:
    """One line of text fit for a digest: secret-shaped strings replaced, controls removed."""
    for pattern in PATTERNS.values():
        text = pattern.sub("[redacted]", text)
    text = "".join(c if c.isprintable() else " " for c in text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _group_of(state: str, reason_code: str | None) -> str:
    code = reason_code or ""
    if code.startswith("delivery_"):
        return "held_send"
    if code == "budget_exhausted":
        return "budget"
    return {"awaiting_approval": "approval", "deferred": "deferred"}.get(state, "escalation")


def _alert_entry(alert: dict[str, Any]) -> tuple[str, Entry] | None:
    kind = str(alert.get("kind") or "")
    if kind == OWN_ALERT:
        return None
    if kind in ("run_failure", "check_failure"):
        code = kind if kind == "run_failure" else f"check_failure:{alert.get('check')}"
        return "failure", Entry(str(alert.get("run_id") or "?"), code)
    if kind.startswith(("delivery_", "mailbox_")) and (
        alert.get("item_id") or alert.get("delivery_id")
    ):
        # A failed, timed-out or bounced send; a copy not filed in the owner's Sent folder.
        return "held_send", Entry(str(alert.get("item_id") or alert["delivery_id"]), kind)
    if kind.startswith(("intake", "imap", "maildir", "bounce_")):
        # A file name is the sender's to choose: redacted like a subject.
        where = alert.get("item_id") or redact(
            str(alert.get("source") or alert.get("account") or "")
        )
        return "intake", Entry(str(where or kind), kind)
    return None


def load_state(st: Store) -> dict[str, Any]:
    row = st.control(CONTROL)
    return json.loads(row["value"]) if row else {}


def gather(st: Store, home: Home, config: Config, *, now: dt.datetime) -> Digest:
    """What started waiting (and still waits) and what failed since the last digest."""
    state = load_state(st)
    audit_from, alerts_from = int(state.get("audit_to") or 0), str(state.get("alerts_to") or "")
    a = t.audit_log
    with st.engine.connect() as conn:
        audit_to = int(conn.execute(sa.select(sa.func.max(a.c.id))).scalar_one() or 0)
        moved = {
            row.item_id
            for row in conn.execute(
                sa.select(a.c.item_id).where(
                    a.c.id > audit_from, a.c.id <= audit_to, a.c.event == "state"
                )
            )
            if row.item_id
        }
    digest = Digest(
        number=int(state.get("number") or 0) + 1,
        audit_to=audit_to,
        alerts_to=now.isoformat(timespec="microseconds"),
        since=state.get("sent_at"),
        groups={g: [] for g in GROUPS},
        console_url=console_url(st, config),
    )
    seen: set[tuple[str, str]] = set()
    waiting = [i for i in st.items(states=WAITING) if i["id"] in moved]
    for item in waiting:
        group = _group_of(item["state"], item["reason_code"])
        seen.add((group, item["id"]))
        subject = redact(item.get("subject") or "(no subject)")
        digest.groups[group].append(Entry(item["id"], item["reason_code"], subject))
    for alert in read_alerts(home):
        at = str(alert.get("at") or "")
        if not (alerts_from < at <= digest.alerts_to):
            continue
        found = _alert_entry(alert)
        if found and (found[0], found[1].id) not in seen:
            seen.add((found[0], found[1].id))
            digest.groups[found[0]].append(found[1])
    return digest


def summary_line(digest: Digest) -> str:
    parts = [f"{n} {GROUPS[g].lower()}" for g, n in digest.counts().items()]
    return f"Opsbench: {digest.total()} new for you ({'; '.join(parts)})"


def console_url(st: Store, config: Config) -> str:
    """The desk's address: the config's when it names one, else the one `opsbench run`
    serves (its --port), else the default."""
    n = config.notifications
    if "console_url" in n.model_fields_set:
        return n.console_url
    served = st.control(CONSOLE_CONTROL)
    return str(served["value"]) if served else n.console_url


def mail_text(digest: Digest, config: Config) -> str:
    n = config.notifications
    since = f" since {digest.since[:16].replace('T', ' ')} UTC" if digest.since else ""
    lines = [f"{summary_line(digest)}{since}.", "", f"Open the desk: {digest.console_url}", ""]
    for group, entries in digest.groups.items():
        if not entries:
            continue
        lines.append(f"{GROUPS[group]} ({len(entries)}):")
        for entry in entries[: n.max_subjects]:
            label = entry.subject or entry.id
            code = f" [{entry.reason_code}]" if entry.reason_code else ""
            lines.append(f"  - {label}{code}  ({entry.id})")
        if len(entries) > n.max_subjects:
            lines.append(f"  … and {len(entries) - n.max_subjects} more on the desk")
        lines.append("")
    lines.append(f"This digest is sent at most every {n.digest_minutes:g} minutes.")
    return "\n".join(lines) + "\n"


def mail_payload(digest: Digest, config: Config, to: str) -> Callable[[str], bytes]:
    def build(key: str) -> bytes:
        message = email.message.EmailMessage(policy=email.policy.SMTP)
        message["From"] = config.identity.reply_from
        message["To"] = to
        message["Subject"] = summary_line(digest)
        message["Date"] = email.utils.formatdate(usegmt=True)
        message["Message-ID"] = f"<{key}@opsbench.digest>"
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to it
        message["X-Opsbench-Digest"] = str(digest.number)
        message.set_content(mail_text(digest, config))
        return message.as_bytes()

    return build


def webhook_body(digest: Digest, config: Config) -> dict[str, Any]:
    """Ids, counts and reason codes (never a subject); `text` for ntfy-/Slack-style hooks."""
    console = digest.console_url
    return {
        "text": f"{summary_line(digest)}: {console}",
        "digest": digest.number,
        "console_url": console,
        "total": digest.total(),
        "counts": digest.counts(),
        "entries": [
            {"group": g, "id": e.id, "reason_code": e.reason_code}
            for g, entries in digest.groups.items()
            for e in entries
        ],
    }


def channels(config: Config, home: Home) -> list[tuple[Connector, str, str]]:
    """(connector, destination, file suffix) for each configured way to the owner."""
    n, connectors = config.notifications, config.connectors
    to = n.email_to or config.identity.owner_addresses[0]
    mail: Connector
    if connectors.smtp.enabled:
        smtp = connectors.smtp
        mail = SmtpConnector(
            smtp.host,
            smtp.port,
            starttls=smtp.starttls,
            use_ssl=smtp.ssl,
            username=smtp.username,
            password=secret_value(smtp.password_env),
            timeout_s=smtp.timeout_s,
        )
    else:
        mail = FileOutbox(home.root / "notifications")
    found: list[tuple[Connector, str, str]] = [(mail, to, ".eml")]
    if n.webhook_url:
        hook = connectors.webhook
        webhook = WebhookConnector(
            n.webhook_url,
            secret=secret_value(n.webhook_secret_env),
            timeout_s=hook.timeout_s,
            max_retries=hook.max_retries,
            backoff_s=hook.backoff_s,
        )
        found.append((webhook, n.webhook_url, ".json"))
    if connectors.sandbox:
        found = [
            (Sandbox(c, home.root / "sandbox" / f"notifications-{c.name}", s), d, s)
            for c, d, s in found
        ]
    return found


def _due(state: dict[str, Any], minutes: float, now: dt.datetime) -> bool:
    sent_at = state.get("sent_at")
    return not sent_at or now >= dt.datetime.fromisoformat(sent_at) + dt.timedelta(minutes=minutes)


def send_digest(
    st: Store, home: Home, config: Config, *, now: dt.datetime | None = None
) -> Outcome:
    """One tick: send the digest when one is due and something is new; say why not otherwise."""
    n = config.notifications
    if not n.enabled:
        return Outcome(False, "notifications are off")
    now = now or dt.datetime.now(dt.UTC)
    state = load_state(st)
    if not _due(state, n.digest_minutes, now):
        return Outcome(False, f"the last digest went out less than {n.digest_minutes:g} min ago")
    digest = gather(st, home, config, now=now)
    if not digest.total():
        return Outcome(False, "nothing new waits for the owner")
    results: dict[str, str] = {}
    for connector, destination, _ in channels(config, home):
        outcome, key = _deliver(st, connector, destination, digest, config)
        results[connector.name] = outcome
        if outcome in (ledger.FAILED, ledger.UNCONFIRMED):
            write_alert(home, OWN_ALERT, delivery_id=key, connector=connector.name, code=outcome)
    if any(r in (ledger.RETRY, ledger.RATE_LIMITED, ledger.HELD) for r in results.values()):
        # Not out yet: the same digest (same number, same ledger keys) is tried next tick.
        return Outcome(False, f"digest {digest.number} not out yet", digest.number, results)
    st.set_control(
        CONTROL,
        json.dumps(
            {
                "number": digest.number,
                "audit_to": digest.audit_to,
                "alerts_to": digest.alerts_to,
                "sent_at": now.isoformat(timespec="microseconds"),
            }
        ),
        actor="notifications",
    )
    return Outcome(
        True, f"digest {digest.number}: {digest.total()} entries", digest.number, results
    )


def _deliver(
    st: Store, connector: Connector, destination: str, digest: Digest, config: Config
) -> tuple[str, str]:
    """One channel's send through the ledger: once per (digest, destination)."""
    if destination == config.notifications.webhook_url:
        body = json_payload(webhook_body(digest, config))
        payload: Callable[[str], bytes] = lambda _key: body  # noqa: E731
        content = body
    else:
        payload = mail_payload(digest, config, destination)
        # What the ledger records: the text (a mail's Date header changes with every build).
        content = mail_text(digest, config).encode()
    return ledger.deliver(
        st,
        connector,
        item_id=digest.item_id,
        destination=destination,
        purpose=PURPOSE,
        content_hash=hashlib.sha256(content).hexdigest(),
        payload=payload,
        per_minute=None,
    )
