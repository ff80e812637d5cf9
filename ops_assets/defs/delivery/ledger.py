"""One delivery through one connector, exactly once, by the delivery ledger.

intent (unique per item, destination and purpose) -> attempt counted (compare-and-set) ->
send -> sent with the receipt -> confirmed | failed. Each mark is committed (and, on SQLite,
synced to disk) before the next step acts. A crash anywhere is resolved by the next drain: a
recorded receipt is confirmed; an attempt without one is looked up at the far side, resent
under the same key where the far side dedupes, and otherwise handed to the owner as
`delivery_unconfirmed` ("may have arrived") — never resent blindly. An erased contact's
address is refused at the attempt, in the same transaction that would count it.

Receipts and refusals are kept as codes and ids (`smtp_550`, `smtp://host:port accepted`),
never a server's text: a bounce quotes the recipient, and the audit log is append-only.
"""

import datetime as dt
import hashlib
import os
import signal
from collections.abc import Callable

from resources.connectors.base import Connector, ConnectorError
from resources.settings.environment import environment
from resources.store import Store
from resources.store.store import ContactErased

# Outcomes of one delivery.
DELIVERED, FAILED, UNCONFIRMED, RETRY, RATE_LIMITED, HELD, ERASED = (
    "delivered",
    "failed",
    "unconfirmed",
    "retry",
    "rate_limited",
    "held",
    "erased",
)
# The store lock a drain holds (and an erase takes, so that no send overlaps it).
DRAIN_LOCK = "delivery"
# Where a crash test may kill a drain (OPSBENCH_FAILPOINT=delivery:<point>:<connector>): after
# each mark of the item and of its ledger row.
FAILPOINTS = (
    "after_sending",
    "after_intent",
    "after_attempt",
    "after_send",
    "after_receipt",
    "after_confirmed",
)


# Where a delivery ends when the far side took it: `confirmed`, or `drafted_in_mailbox` for
# a reply put into the owner's Drafts folder (resources/connectors/imap_mailbox.py).
DONE_STATES = ("confirmed", "drafted_in_mailbox")


def done_state(connector: Connector) -> str:
    return str(getattr(connector, "delivered_state", "confirmed"))


def delivery_id(item_id: str, destination: str, purpose: str) -> str:
    digest = hashlib.sha256(f"{item_id}|{destination}|{purpose}".encode()).hexdigest()
    return f"dlv_{digest[:20]}"


def failpoint(name: str) -> None:
    """Crash tests kill the process here (OPSBENCH_FAILPOINT=name) as a power cut would."""
    if environment().failpoint == name:
        os.kill(os.getpid(), signal.SIGKILL)


def rate_limited(st: Store, connector: Connector, per_minute: int | None) -> bool:
    if per_minute is None:
        return False
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat()
    return st.sends_since(connector.name, since) >= per_minute


def deliver(
    st: Store,
    connector: Connector,
    *,
    item_id: str,
    destination: str,
    purpose: str,
    content_hash: str,
    payload: Callable[[str], bytes],
    per_minute: int | None,
) -> tuple[str, str]:
    """Deliver one payload (built from its key); returns (outcome, delivery id)."""
    key = delivery_id(item_id, destination, purpose)
    row = st.delivery_intent(
        {
            "id": key,
            "item_id": item_id,
            "destination": destination,
            "purpose": purpose,
            "connector": connector.name,
            "content_hash": content_hash,
        }
    )
    failpoint(f"delivery:after_intent:{connector.name}")
    final = done_state(connector)
    if row["state"] in DONE_STATES:
        return DELIVERED, key
    if row["state"] == "failed":
        return FAILED, key
    if row["state"] == "sent":
        # The far side accepted it and we recorded its receipt: only the confirmation is missing.
        st.delivery_mark(key, final, expect=("sent",))
        return DELIVERED, key
    if row["attempts"] > 0 and row["state"] != "retry" and row["connector"] != connector.name:
        # Attempted through another connector (sandbox switched, SMTP off): this one cannot
        # know whether that send arrived.
        return _in_doubt(st, key, row["state"])
    if row["attempts"] > 0 and row["state"] != "retry":
        # Attempted before, no receipt recorded: ask the far side instead of sending again.
        receipt = connector.lookup(key)
        if receipt is not None:
            st.delivery_mark(key, final, receipt=receipt.reference)
            return DELIVERED, key
        if not connector.can_dedupe:
            return _in_doubt(st, key, row["state"])
    if rate_limited(st, connector, per_minute):
        return RATE_LIMITED, key
    if row["content_hash"] != content_hash and (row["attempts"] == 0 or row["state"] == "retry"):
        # Nothing of it went out yet (no attempt, or one known to have failed): record the
        # body that goes now, so the ledger says what was sent.
        st.delivery_content(key, content_hash)
    # Counted before the send, compare-and-set: a crash after the send is visible, and of
    # two drains racing for one message only one sends it.
    try:
        if not st.delivery_attempt(key, row["attempts"]):
            return HELD, key
    except ContactErased:
        st.delivery_mark(key, "failed", receipt="contact_erased")
        return ERASED, key
    failpoint(f"delivery:after_attempt:{connector.name}")
    try:
        receipt = connector.send(payload(key), key)
    except ConnectorError as exc:
        if exc.maybe_sent and not connector.can_dedupe:
            st.delivery_mark(key, "unconfirmed", receipt=exc.code)
            return UNCONFIRMED, key
        st.delivery_mark(key, "failed" if exc.permanent else "retry", receipt=exc.code)
        return (FAILED if exc.permanent else RETRY), key
    failpoint(f"delivery:after_send:{connector.name}")
    st.delivery_mark(key, "sent", receipt=receipt.reference)
    failpoint(f"delivery:after_receipt:{connector.name}")
    st.delivery_mark(key, final, receipt=receipt.reference)
    failpoint(f"delivery:after_confirmed:{connector.name}")
    return DELIVERED, key


def _in_doubt(st: Store, key: str, seen: str) -> tuple[str, str]:
    """An attempt nobody can confirm waits for the owner. Compare-and-set: if another drain
    recorded its outcome meanwhile, that outcome stands."""
    if seen == "unconfirmed" or st.delivery_mark(key, "unconfirmed", expect=(seen,)):
        return UNCONFIRMED, key
    return HELD, key
