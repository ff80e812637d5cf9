"""Which items are answers to a proposal (the shared contract: `triaged`, route `proposals`,
on the thread of a delivery of purpose `proposal`), which version each answers, and what code
settles before any model is asked (an auto-reply or an empty mail is no answer)."""

from dataclasses import dataclass
from typing import Any

from ops_assets.agents.quoting import reply_text_only
from ops_assets.defs.proposals.deals import NUDGE_SOURCE
from ops_assets.defs.proposals.workflow import PROPOSALS, PURPOSE
from ops_assets.defs.triage.rules import no_action_rule
from resources.store import Store
from resources.store import proposals as rows
from resources.store.mailbox_links import answered_delivery

ROUTE = PROPOSALS.name
NOT_ANSWERS = ("auto_reply", "bounce", "bulk", "mailing_list")
"""Triage's no-action rules that say a machine wrote it, not the client."""


@dataclass(frozen=True)
class Answer:
    item: dict[str, Any]
    delivery: dict[str, Any]
    version: dict[str, Any] | None
    """The proposal version that delivery carried (None: it is gone, the owner looks)."""


def answered_version(st: Store, delivery: dict[str, Any]) -> dict[str, Any] | None:
    """The version a proposal delivery carried: the one whose content it sent, else the
    newest that went out."""
    versions = rows.all_versions(st, delivery["item_id"])
    same = [v for v in versions if v["content_sha256"] == delivery["content_hash"]]
    sent = [v for v in versions if v["status"] in ("sent", "send_unconfirmed")]
    found = same or sent
    return found[-1] if found else None


def proposal_delivery(st: Store, answered: dict[str, Any] | None) -> dict[str, Any] | None:
    """The proposal send an answered delivery stands for: itself for a proposal; for the
    reply that carried one of our nudges (nudges/), the proposal that nudge was about."""
    if answered is None or answered["purpose"] == PURPOSE:
        return answered
    nudge = st.get_item(answered["item_id"]) or {}
    source = nudge.get("source") or ""
    if not source.startswith(NUDGE_SOURCE):
        return None
    sent = [
        d
        for d in st.deliveries_for(source.removeprefix(NUDGE_SOURCE))
        if d["purpose"] == PURPOSE and d["state"] == "confirmed"
    ]
    return sent[-1] if sent else None


def answers(st: Store) -> list[Answer]:
    """Answers to our proposals (or to a nudge of one) waiting to be read, oldest first."""
    found = []
    for item in st.items(states=["triaged"]):
        if item["route"] != ROUTE:
            continue
        delivery = proposal_delivery(st, answered_delivery(st, item))
        if delivery is None:
            continue  # a new lead: the lead's agents take it
        found.append(Answer(item, delivery, answered_version(st, delivery)))
    return found


def not_an_answer(item: dict[str, Any]) -> str | None:
    """A reason code when code can tell this is no answer from the client: an auto-reply,
    a bounce or list mail that reached the thread, or nothing written above the quote."""
    rule = no_action_rule(item, [])
    if rule is not None and rule[0] in NOT_ANSWERS:
        return rule[0]
    if not reply_text_only(item.get("body") or "").strip():
        return "empty_answer"
    return None
