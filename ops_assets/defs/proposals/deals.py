"""The lead's deal in the CRM: `lead -> proposal_sent -> accepted | declined |
revision_requested | stalled`, moved only along these arrows (a revision goes out again).

One deal per lead. A client's answer to the proposal, a revision sent from that answer and a
nudge we drafted all belong to the lead's deal: `deal_of` follows them back along the thread
(the delivery each answers, the lead a nudge was made for). Its amount is the total of the
proposal version that moved it, so `opsbench crm` shows the pipeline with values."""

import hashlib
from typing import Any

from resources.store import Store
from resources.store import proposals as rows
from resources.store.mailbox_links import answered_delivery

STAGES = ("lead", "proposal_sent", "accepted", "declined", "revision_requested", "stalled")
NEXT: dict[str, frozenset[str]] = {
    "lead": frozenset({"proposal_sent"}),
    "contacted": frozenset({"proposal_sent"}),  # the crm asset's stage for a lead answered
    "proposal_sent": frozenset({"accepted", "declined", "revision_requested", "stalled"}),
    "revision_requested": frozenset({"proposal_sent", "declined", "stalled"}),
    "stalled": frozenset({"accepted", "declined", "revision_requested", "proposal_sent"}),
    "accepted": frozenset(),
    "declined": frozenset(),
}
ENDED = ("accepted", "declined", "stalled")
"""Where a deal's story is told to memory (stalled may still revive)."""
NUDGE_SOURCE = "proposal_nudge:"
"""A nudge's `source`: `proposal_nudge:<the item its proposal was sent for>`."""
MAX_HOPS = 10
"""A thread is short; this stops a loop of links."""


class IllegalStage(Exception):
    """A deal move the pipeline does not allow (a bug, never user input)."""


def deal_id(item_id: str) -> str:
    # The crm asset's id for the deal of a sales mail: one deal per lead, whoever writes first.
    return "deal_" + hashlib.sha256(item_id.encode()).hexdigest()[:12]


def _own_deal(st: Store, item_id: str) -> dict[str, Any] | None:
    return next((d for d in st.deals() if d["source_item_id"] == item_id), None)


def lead_of(st: Store, item_id: str) -> str:
    """The item whose deal this one belongs to: itself when it has a deal or nothing to
    follow; else the item of the delivery it answers, or the item a nudge was made for."""
    current = item_id
    for _ in range(MAX_HOPS):
        if _own_deal(st, current) is not None:
            return current
        item = st.get_item(current)
        if item is None:
            return current
        source = item.get("source") or ""
        if source.startswith(NUDGE_SOURCE):
            current = source.removeprefix(NUDGE_SOURCE)
            continue
        answered = answered_delivery(st, item)
        if answered is None or answered["item_id"] == current:
            return current
        current = answered["item_id"]
    return current


def deal_of(st: Store, item_id: str) -> dict[str, Any] | None:
    """The lead's deal, for the lead, an answer to its proposal, or a nudge of it."""
    return _own_deal(st, lead_of(st, item_id))


def move_deal(st: Store, item: dict[str, Any], stage: str, *, amount: str | None = None) -> bool:
    """Create the lead's deal at `stage`, or move it there along the pipeline's arrows; the
    amount (the proposal's total, "3600.00 EUR") is written when given. Called with an answer
    item, it moves the lead's deal. True when the stage changed."""
    if stage not in STAGES:
        raise IllegalStage(f"unknown stage {stage!r}")
    current = deal_of(st, item["id"])
    was = current["stage"] if current is not None else None
    if was is not None and was != stage and stage not in NEXT.get(was, frozenset()):
        raise IllegalStage(f"{was} -> {stage} is not allowed")
    source = current["source_item_id"] if current else item["id"]
    moved = st.upsert_deal(
        {
            "id": current["id"] if current else deal_id(item["id"]),
            "contact_email": current["contact_email"]
            if current
            else (item["sender"] or "").lower(),
            "source_item_id": source,
            "title": current["title"] if current else (item["subject"] or "")[:120],
            "amount": amount,
            "stage": stage,
        },
        actor="proposals",
    )
    if amount is not None:
        rows.set_deal_amount(st, source, amount)
    return moved


def amount_of(version: dict[str, Any]) -> str:
    """A version's total as the deal's amount."""
    return f"{float(version['total']):.2f} {version['currency']}"
