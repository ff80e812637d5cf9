"""The delivery asset: drains every approved item into its connector, exactly once.

Ledger order per item: intent (unique per item, destination, purpose) -> attempt counted ->
send -> sent with receipt -> confirmed. A crash at any point is resolved on the next drain:
an attempt without a receipt is looked up at the far side when it can dedupe (the file
outbox can: the key is the file name), and otherwise handed to a human as
`delivery_unconfirmed` — never resent automatically.
"""

import email.utils
import hashlib
from typing import Any

import dagster as dg

from ops_assets.agent_run import final_draft
from ops_assets.defs.reply_draft.compose import compose_reply
from resources.connectors.outbox import FileOutbox, OutboxResource
from resources.settings import SettingsResource
from resources.store import Store
from resources.store.resource import StoreResource

PURPOSE = "reply"


def delivery_id(item_id: str, destination: str, purpose: str) -> str:
    digest = hashlib.sha256(f"{item_id}|{destination}|{purpose}".encode()).hexdigest()
    return f"dlv_{digest[:20]}"


@dg.asset(group_name="delivery", kinds={"email", "sqlite"}, deps=["review"])
def delivery(
    context: dg.AssetExecutionContext,
    settings: SettingsResource,
    store: StoreResource,
    outbox: OutboxResource,
) -> dg.MaterializeResult:
    """Replies handed to the outbox connector and confirmed, at most once per item."""
    st = store.get()
    connector = outbox.connector(agent="delivery", store=st)
    run_id = context.run.run_id

    def is_dead(owner: str) -> bool:
        run = context.instance.get_run_by_id(owner)
        return run is None or run.is_finished

    # One drain at a time: two overlapping runs must never both act on one item. A holder
    # whose run has finished (or died and was marked failed) no longer holds the lock.
    if not st.acquire_lock("delivery", run_id, is_dead):
        context.log.info("another delivery run is draining; this one leaves it to that run")
        return dg.MaterializeResult(metadata={"delivered": 0, "skipped": "lock held"})
    try:
        outcome = drain(st, connector, settings.config().identity, context.log)
    finally:
        st.release_lock("delivery", run_id)
    return dg.MaterializeResult(
        metadata={
            "delivered": len(outcome["delivered"]),
            "unconfirmed": len(outcome["unconfirmed"]),
            "held": len(outcome["held"]),
            "delivery_item_ids": dg.MetadataValue.json(outcome),
            "connector": f"{connector.name}@{connector.version}",
        }
    )


def drain(st: Store, connector: FileOutbox, identity: Any, log: Any) -> dict[str, list[str]]:
    outcome: dict[str, list[str]] = {"delivered": [], "unconfirmed": [], "held": []}
    healthy, health = connector.health()
    if not healthy:
        log.warning(f"outbox unhealthy, nothing sent this time: {health}")
        return outcome
    for item in st.ready_to_send():
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
            outcome["held"].append(item["id"])
            continue
        draft = final_draft(st, item["id"])
        if draft is None or not draft["valid"]:
            st.transition(
                item["id"],
                "awaiting_human",
                actor="delivery",
                reason_code="no_valid_draft",
                reason="approved without a valid draft",
            )
            outcome["held"].append(item["id"])
            continue
        outcome[deliver_one(st, connector, item, draft["output"], identity)].append(item["id"])
    return outcome


def deliver_one(
    st: Store, connector: FileOutbox, item: dict[str, Any], draft: dict[str, Any], identity: Any
) -> str:
    destination = draft["to"]
    key = delivery_id(item["id"], destination, PURPOSE)
    payload = compose_reply(item, draft["body"], identity, delivery_id=key)
    content_hash = hashlib.sha256(draft["body"].encode()).hexdigest()
    row = st.delivery_intent(
        {
            "id": key,
            "item_id": item["id"],
            "destination": destination,
            "purpose": PURPOSE,
            "connector": connector.name,
            "content_hash": content_hash,
        }
    )
    if item["state"] == "approved" and not st.transition(
        item["id"], "sending", actor="delivery", expect=("approved",)
    ):
        return "held"  # another drain took it first
    if row["state"] != "confirmed" and row["attempts"] > 0:
        # Sent before, receipt never recorded: ask the far side instead of sending again.
        receipt = connector.lookup(key) if connector.can_dedupe else None
        if receipt is not None:
            st.delivery_mark(key, "confirmed", receipt=receipt.reference)
            row["state"] = "confirmed"
        elif not connector.can_dedupe:
            st.delivery_mark(key, "unconfirmed")
            st.transition(
                item["id"],
                "awaiting_human",
                actor="delivery",
                reason_code="delivery_unconfirmed",
                reason="a send was attempted but never confirmed",
                expect=("sending",),
            )
            return "unconfirmed"
    if row["state"] != "confirmed":
        # The attempt is counted before the send, compare-and-set: a crash after the send is
        # then visible, and of two drains racing for one message only one sends it.
        if not st.delivery_attempt(key, row["attempts"]):
            return "held"
        receipt = connector.send(_dated(payload), key)
        st.delivery_mark(key, "sent", receipt=receipt.reference)
        st.delivery_mark(key, "confirmed", receipt=receipt.reference)
    st.transition(
        item["id"], "delivered", actor="delivery", expect=("sending",), detail={"delivery_id": key}
    )
    return "delivered"


def _dated(payload: bytes) -> bytes:
    return f"Date: {email.utils.formatdate(usegmt=True)}\r\n".encode() + payload
