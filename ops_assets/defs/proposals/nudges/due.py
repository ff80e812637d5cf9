"""Which sent proposals are due a nudge or a `stalled` deal, and the nudge as a work item.

A nudge reuses the reply follow-up path (ops_assets/orchestration/follow_ups.py): a work item
of kind `follow_up`, already triaged by code, route `reply_draft`, threaded under the
proposal's Message-ID (`<delivery id@our domain>`), so it is drafted, reviewed and gated like
any reply; the sample policy holds every follow-up for the owner, so none is sent by itself.
Its `source` names the item the proposal was sent for, so deals.py finds the deal from it."""

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from ops_assets.defs.proposals.deals import NUDGE_SOURCE, deal_of
from ops_assets.defs.proposals.nudges.business_days import business_days_between
from ops_assets.defs.proposals.replies.answers import answered_version
from ops_assets.defs.proposals.workflow import PURPOSE
from ops_assets.orchestration.follow_ups import KIND, register_triaged
from resources.settings.proposals import ProposalNudges
from resources.store import Store

PROMPT_VERSION = "proposal_nudge-code-1"
SETTLED = ("delivered", "rejected", "no_action")
"""A nudge the owner has dealt with: only then may the clock run towards the next."""
SUMMARY = (
    "We sent our proposal ({title}) on {date} and have not heard back. Write a short, "
    "friendly nudge asking whether they had a chance to look at it; no prices."
)


def nudge_id(delivery_id: str, number: int) -> str:
    return "nud_" + hashlib.sha256(f"{delivery_id}:{number}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Due:
    delivery: dict[str, Any]
    item: dict[str, Any]
    """The item the proposal was sent for (the lead, or an answer that asked for a revision)."""
    number: int
    """The nudge to make (1..K), or 0: the deal is to be stalled."""


def _answered_since(st: Store, item: dict[str, Any], since: str) -> bool:
    """Any mail from the client after our send (not our own nudges): no nudge for them."""
    sender = (item["sender"] or "").lower()
    return any(
        other["created_at"] > since and other["kind"] != KIND
        for other in st.items()
        if (other["sender"] or "").lower() == sender and other["id"] != item["id"]
    )


def due(st: Store, now: dt.datetime, timezone: str, keys: ProposalNudges) -> list[Due]:
    found = []
    for delivery in st.all_deliveries():
        if delivery["purpose"] != PURPOSE or delivery["state"] != "confirmed":
            continue
        if delivery["connector"].startswith("sandbox-"):
            continue  # captured, never sent: nobody is waiting for it
        item = st.get_item(delivery["item_id"])
        deal = deal_of(st, delivery["item_id"])
        if item is None or deal is None or deal["stage"] != "proposal_sent":
            continue
        if _answered_since(st, item, delivery["updated_at"]):
            continue
        made = [
            n
            for n in range(1, keys.max_nudges + 1)
            if st.get_item(nudge_id(delivery["id"], n)) is not None
        ]
        clock = delivery["updated_at"]
        if made:
            last = st.get_item(nudge_id(delivery["id"], made[-1])) or {}
            if last.get("state") not in SETTLED:
                continue  # the owner has not decided on the last one yet
            clock = last["received_at"]  # when the schedule made it (register)
        waited = business_days_between(dt.datetime.fromisoformat(clock), now, timezone)
        if waited < keys.after_business_days:
            continue
        number = len(made) + 1 if len(made) < keys.max_nudges else 0
        found.append(Due(delivery, item, number))
    return found


def register(st: Store, due: Due, now: dt.datetime, *, batch: str, run_id: str, domain: str) -> str:
    """The nudge as a triaged follow-up under the proposal's Message-ID, with the triage row
    the drafter reads (written by code: nothing to classify). Its `received_at` is when the
    schedule made it: the next nudge's clock starts there."""
    item, delivery = due.item, due.delivery
    nid = nudge_id(delivery["id"], due.number)
    version = answered_version(st, delivery) or {}
    return register_triaged(
        st,
        item,
        nid,
        source=f"{NUDGE_SOURCE}{item['id']}",
        message_id=f"<{delivery['id']}@{domain}>",
        received_at=now.isoformat(),
        category=item["category"] or "sales",
        summary=SUMMARY.format(
            title=(version.get("title") or item["subject"] or "")[:60],
            date=delivery["updated_at"][:10],
        ),
        customer_name=item["sender_name"] or "",
        company="",
        prompt_version=PROMPT_VERSION,
        input_hash=nid,
        batch=batch,
        run_id=run_id,
        actor="proposal_nudges",
    )
