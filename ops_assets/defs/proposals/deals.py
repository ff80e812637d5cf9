"""The lead's deal in the CRM: `lead -> proposal_sent -> accepted | declined |
revision_requested | stalled`, moved only along these arrows (a revision goes out again)."""

import hashlib
from typing import Any

from resources.store import Store

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


class IllegalStage(Exception):
    """A deal move the pipeline does not allow (a bug, never user input)."""


def deal_id(item_id: str) -> str:
    # The crm asset's id for the deal of a sales mail: one deal per lead, whoever writes first.
    return "deal_" + hashlib.sha256(item_id.encode()).hexdigest()[:12]


def deal_of(st: Store, item_id: str) -> dict[str, Any] | None:
    return next((d for d in st.deals() if d["source_item_id"] == item_id), None)


def move_deal(st: Store, item: dict[str, Any], stage: str, *, amount: str | None = None) -> bool:
    """Create the lead's deal at `stage`, or move it there along the pipeline's arrows."""
    if stage not in STAGES:
        raise IllegalStage(f"unknown stage {stage!r}")
    current = deal_of(st, item["id"])
    was = current["stage"] if current is not None else None
    if was is not None and was != stage and stage not in NEXT.get(was, frozenset()):
        raise IllegalStage(f"{was} -> {stage} is not allowed")
    return st.upsert_deal(
        {
            "id": current["id"] if current else deal_id(item["id"]),
            "contact_email": (item["sender"] or "").lower(),
            "source_item_id": item["id"],
            "title": (item["subject"] or "")[:120],
            "amount": amount,
            "stage": stage,
        },
        actor="proposals",
    )
