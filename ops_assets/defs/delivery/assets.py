"""The delivery asset: drains every approved item into its connector, exactly once, then
pushes outcomes to the webhook when one is configured. The ledger rules are in `ledger.py`."""

import datetime as dt
import email.utils
import hashlib
from collections.abc import Iterator
from typing import Any

import dagster as dg

from ops_assets.agents.agent_run import final_draft, holder_is_gone, reviewed_draft
from ops_assets.defs.delivery import ledger
from ops_assets.defs.delivery.mailbox import drafts_channel, file_in_sent
from ops_assets.defs.reply_draft.compose import compose_reply
from ops_assets.observability.alerts import write_alert
from ops_assets.orchestration.workflows import REPLIES, belongs_to
from resources.connectors.base import Connector
from resources.connectors.resource import ConnectorsResource
from resources.connectors.webhook import json_payload
from resources.settings import SettingsResource
from resources.store import Store, now_iso
from resources.store.mailbox_links import undeliverable
from resources.store.resource import StoreResource

PURPOSE = "reply"
OUTCOME = "outcome"
HEALTH_CHECK = "connectors_healthy"
delivery_id = ledger.delivery_id


@dg.asset(
    group_name="outcomes",
    kinds={"email", "sqlite"},
    deps=["review"],
    # One delivery step at a time across runs (the store lock below is the guarantee; the
    # pool shows it in the UI and keeps a second run from even starting the step).
    pool="opsbench_delivery",
    # A run that finds another draining did nothing: it records no materialization.
    output_required=False,
    check_specs=[
        dg.AssetCheckSpec(
            HEALTH_CHECK,
            asset="delivery",
            description="Every configured connector answered its health check before sending",
        )
    ],
)
def delivery(
    context: dg.AssetExecutionContext,
    settings: SettingsResource,
    store: StoreResource,
    connectors: ConnectorsResource,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Replies handed to their connector and confirmed, at most once per item."""
    st = store.get()
    run_id = context.run.run_id
    # Drafts in the owner's mailbox instead of sending, when the config says so (mailbox.py).
    channel = drafts_channel(settings, st, agent="delivery") or connectors.reply_channel(
        agent="delivery", store=st
    )
    webhook = connectors.webhook(agent="delivery", store=st)
    health = {c.name: c.health() for c in (channel, webhook) if c is not None}
    check = dg.AssetCheckResult(
        check_name=HEALTH_CHECK,
        passed=all(ok for ok, _ in health.values()),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            name: f"{'ok' if ok else 'DOWN'}: {detail}" for name, (ok, detail) in health.items()
        },
    )

    # One drain at a time: two overlapping runs must never both act on one item.
    if not st.acquire_lock(ledger.DRAIN_LOCK, run_id, holder_is_gone(context)):
        context.log.info("another delivery run is draining; this one leaves it to that run")
        yield check
        return
    try:
        timeout_s = settings.config().connectors.confirm_timeout_s
        outcome = {"timed_out": hold_stale(st, settings, timeout_s, channel)}
        if health[channel.name][0]:
            rate = connectors.rate_per_minute(channel)
            sent: dict[str, bytes] = {}
            outcome |= drain(st, channel, settings.config().identity, rate, sent=sent)
            if channel.name == "smtp":  # what left by SMTP is filed in the owner's Sent
                outcome["filed_in_sent"], outcome["sent_copy_waiting"] = file_in_sent(
                    st, settings, sent
                )
            for item_id in outcome.get(ledger.FAILED, []):
                write_alert(
                    settings.home_dir(), "delivery_failed", item_id=item_id, connector=channel.name
                )
        else:
            context.log.warning(f"{channel.name} unhealthy, nothing sent: {health[channel.name]}")
        pushing = settings.config().connectors.webhook.push_outcomes
        if webhook is not None and health[webhook.name][0] and pushing:
            pushed, refused = push_outcomes(st, webhook, connectors.rate_per_minute(webhook))
            outcome["pushed"], outcome["push_failed"] = pushed, refused
            for item_id in refused:  # the receiver refused it (4xx): a person must look
                write_alert(
                    settings.home_dir(), "delivery_failed", item_id=item_id, connector="webhook"
                )
    finally:
        st.release_lock(ledger.DRAIN_LOCK, run_id)
    yield dg.MaterializeResult(
        metadata={
            "delivered": len(outcome.get(ledger.DELIVERED, [])),
            "unconfirmed": len(outcome.get(ledger.UNCONFIRMED, [])),
            "failed": len(outcome.get(ledger.FAILED, [])),
            "rate_limited": len(outcome.get(ledger.RATE_LIMITED, [])),
            "delivery_item_ids": dg.MetadataValue.json(outcome),
            "connector": f"{channel.name}@{channel.version}"
            + (" (sandbox)" if channel.sandbox else ""),
        },
        check_results=[check],
    )


MAY_HAVE_ARRIVED = "a send was attempted and may have arrived: check before sending again"


def replies_ready(st: Store) -> list[dict[str, Any]]:
    """Approved and sending replies: a workflow with its own delivery (a proposal, sent with
    its PDF under purpose `proposal`) is never drained here."""
    return [i for i in st.ready_to_send() if belongs_to(i, REPLIES)]


def hold_stale(
    st: Store, settings: SettingsResource, timeout_s: float, channel: Connector
) -> list[str]:
    """Approved replies still unconfirmed past the timeout go to the owner, with an alert:
    as `delivery_unconfirmed` when an attempt may have arrived (never as a timeout, which
    invites a resend), as `delivery_timeout` when nothing went out."""
    cutoff = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=timeout_s)).isoformat()
    held = []
    for item in replies_ready(st):
        # From its latest approval: retries and rate limits move the item but must not restart
        # the clock, while an owner's new approval (after `opsbench retry`) does.
        approved = [a["at"] for a in st.approvals_for(item["id"]) if a["decision"] == "approved"]
        since = max(approved) if approved else item["updated_at"]
        if since >= cutoff:
            continue
        doubt = _in_doubt_rows(st, item["id"])
        if any(row["connector"] == channel.name and channel.can_dedupe for row in doubt):
            continue  # the far side dedupes: the drain asks it, or resends under the key
        for row in doubt:
            st.delivery_mark(row["id"], "unconfirmed", expect=(row["state"],))
        code, reason = (
            ("delivery_unconfirmed", MAY_HAVE_ARRIVED)
            if doubt
            else (
                "delivery_timeout",
                f"approved but not sent within {timeout_s:.0f}s: nothing went out",
            )
        )
        if st.transition(
            item["id"],
            "awaiting_human",
            actor="delivery",
            reason_code=code,
            reason=reason,
            expect=("approved", "sending"),
        ):
            held.append(item["id"])
            write_alert(settings.home_dir(), code, item_id=item["id"], timeout_s=timeout_s)
    return held


def _in_doubt_rows(st: Store, item_id: str) -> list[dict[str, Any]]:
    """Reply deliveries attempted without a recorded outcome (a `retry` is known unsent)."""
    return [
        row
        for row in st.deliveries_for(item_id)
        if row["purpose"] == PURPOSE
        and row["attempts"] > 0
        and row["state"] in ("attempting", "unconfirmed")
    ]


def drain(
    st: Store,
    connector: Connector,
    identity: Any,
    per_minute: int | None,
    *,
    sent: dict[str, bytes] | None = None,
) -> dict[str, list[str]]:
    """Deliver every ready item; `sent` collects the bytes of each reply delivered now."""
    outcome: dict[str, list[str]] = {}
    for item in replies_ready(st):
        result = _deliver_item(st, connector, item, identity, per_minute, sent)
        outcome.setdefault(result, []).append(item["id"])
    return outcome


def _deliver_item(
    st: Store,
    connector: Connector,
    item: dict[str, Any],
    identity: Any,
    per_minute: int | None,
    sent: dict[str, bytes] | None = None,
) -> str:
    if st.kill_switch_on():
        # Checked before every send: a kill stops a running drain at its next message.
        if item["state"] == "approved":
            st.transition(
                item["id"],
                "deferred",
                actor="delivery",
                reason_code="kill_switch",
                reason="held by the kill switch",
                expect=("approved",),
            )
        return ledger.HELD
    draft = reviewed_draft(st, item["id"])
    if draft is None:
        # Only a reviewed reply goes out; a sending item keeps the draft it was sent with.
        if item["state"] == "sending":
            draft = final_draft(st, item["id"])
        if draft is None or not draft["valid"]:
            st.transition(
                item["id"],
                "awaiting_human",
                actor="delivery",
                reason_code="no_valid_draft",
                reason="approved without a reviewed draft",
            )
            return ledger.HELD
    body = draft["output"]
    if item["state"] == "approved" and undeliverable(st, body["to"]) is not None:
        # A reply to this address bounced for good (bounces.py): the owner checks it first.
        st.transition(
            item["id"],
            "awaiting_human",
            actor="delivery",
            reason_code="address_undeliverable",
            reason="an earlier reply to this address bounced: check the address, then retry",
            expect=("approved",),
        )
        return ledger.HELD
    if item["state"] == "approved" and ledger.rate_limited(st, connector, per_minute):
        return ledger.RATE_LIMITED  # untouched: it waits, and launches no new run meanwhile
    if item["state"] == "approved" and not st.transition(
        item["id"], "sending", actor="delivery", expect=("approved",)
    ):
        return ledger.HELD  # another drain took it first
    ledger.failpoint(f"delivery:after_sending:{connector.name}")
    result, key = ledger.deliver(
        st,
        connector,
        item_id=item["id"],
        destination=body["to"],
        purpose=PURPOSE,
        content_hash=hashlib.sha256(body["body"].encode()).hexdigest(),
        payload=lambda key: _kept(
            sent,
            key,
            _dated(
                compose_reply(
                    item, body["body"], identity, delivery_id=key, invite=body.get("invite")
                )
            ),
        ),
        per_minute=per_minute,
    )
    if result != ledger.DELIVERED and sent is not None:
        sent.pop(key, None)  # built but not taken: nothing to file
    drafted = ledger.done_state(connector) == "drafted_in_mailbox"
    moves = {
        ledger.DELIVERED: (
            ("delivered", "drafted_in_mailbox", "the reply waits in the owner's Drafts folder")
            if drafted
            else ("delivered", None, None)
        ),
        ledger.UNCONFIRMED: ("awaiting_human", "delivery_unconfirmed", MAY_HAVE_ARRIVED),
        ledger.FAILED: ("awaiting_human", "delivery_failed", "the far side refused the message"),
        ledger.ERASED: (
            "awaiting_human",
            "contact_erased",
            "this contact was erased: nothing more is sent to them",
        ),
        ledger.RETRY: ("approved", "delivery_retry", "the connector failed; trying again later"),
        ledger.RATE_LIMITED: ("approved", None, None),
    }
    if result in moves:
        state, code, reason = moves[result]
        moved = st.transition(
            item["id"],
            state,
            actor="delivery",
            reason_code=code,
            reason=reason,
            expect=("sending",),
            detail={"delivery_id": key},
        )
        if not moved and result == ledger.DELIVERED:
            _confirm_after_all(st, item["id"], key)
    return result


def _confirm_after_all(st: Store, item_id: str, key: str) -> None:
    """A drain that overlapped this one (its lock taken over from a holder it wrongly thought
    dead) saw our send in progress and handed the item to the owner as "may have arrived":
    our receipt says it did."""
    current = st.get_item(item_id)
    if current is not None and current["reason_code"] == "delivery_unconfirmed":
        st.transition(
            item_id,
            "delivered",
            actor="delivery",
            expect=("awaiting_human",),
            detail={"delivery_id": key, "confirmed_after_all": True},
        )


def push_outcomes(
    st: Store, webhook: Connector, per_minute: int | None
) -> tuple[list[str], list[str]]:
    """Each delivered reply's outcome, once, to the webhook (ids and codes, no message text);
    returns the items pushed now and those the receiver refused now."""
    pushed, refused = [], []
    pending = {d["item_id"] for d in st.open_deliveries(OUTCOME)}
    done = {d["item_id"] for d in st.all_deliveries() if d["purpose"] == OUTCOME}
    for item in st.items(states=["delivered"]):
        if not belongs_to(item, REPLIES):
            continue  # the event is `reply_delivered`
        if item["id"] in done and item["id"] not in pending:
            continue
        event = {
            "event": "reply_delivered",
            "item_id": item["id"],
            "category": item["category"],
            "batch": item["batch"],
            "at": now_iso(),
        }
        result, _ = ledger.deliver(
            st,
            webhook,
            item_id=item["id"],
            destination=getattr(webhook, "url", webhook.name),
            purpose=OUTCOME,
            content_hash=hashlib.sha256(json_payload(event)).hexdigest(),
            payload=lambda key, event=event: json_payload({**event, "delivery_id": key}),  # type: ignore[misc]
            per_minute=per_minute,
        )
        if result == ledger.DELIVERED:
            pushed.append(item["id"])
        elif result == ledger.FAILED and item["id"] not in done:
            refused.append(item["id"])
    return pushed, refused


def _kept(sent: dict[str, bytes] | None, key: str, payload: bytes) -> bytes:
    if sent is not None:
        sent[key] = payload
    return payload


def _dated(payload: bytes) -> bytes:
    return f"Date: {email.utils.formatdate(usegmt=True)}\r\n".encode() + payload
