"""Follow-ups: a delivered reply that got no answer for `follow_ups.after_days` becomes a new
work item, triaged by code and drafted, reviewed and approved like any reply (the sample
policy holds every follow-up for the owner). One follow-up per reply, never one for a
follow-up; an answer from the customer after our reply cancels it."""

import datetime as dt
import hashlib
from typing import Any

from ops_assets.agents.agent_run import output_row, valid_output
from ops_assets.orchestration.workflows import REPLIES, belongs_to
from resources.store import Store

KIND = "follow_up"
PROMPT_VERSION = "follow_up-code-1"
SUMMARY = (
    "We replied on {date} and have not heard back. Write a short, friendly follow-up that "
    "asks whether they still need help with: {about}"
)


def follow_up_id(item_id: str) -> str:
    return "fup_" + hashlib.sha256(item_id.encode()).hexdigest()[:16]


def due(store: Store, now: dt.datetime, after_days: float) -> list[tuple[dict[str, Any], str]]:
    """Delivered replies older than `after_days` with no later mail from their sender and no
    follow-up yet: (the original item, when our reply was confirmed)."""
    cutoff = (now - dt.timedelta(days=after_days)).isoformat()
    found = []
    for item in store.items(states=["delivered"]):
        if not belongs_to(item, REPLIES):
            continue  # a workflow follows up its own sends (a proposal's nudges)
        if item["kind"] == KIND or store.get_item(follow_up_id(item["id"])) is not None:
            continue
        sent = [
            d["updated_at"]
            for d in store.deliveries_for(item["id"])
            if d["purpose"] == "reply"
            and d["state"] == "confirmed"
            and not d["connector"].startswith("sandbox-")  # captured, never sent
        ]
        if not sent or max(sent) > cutoff:
            continue
        answered = any(
            other["created_at"] > max(sent) and other["kind"] != KIND
            for other in store.items()
            if (other["sender"] or "").lower() == (item["sender"] or "").lower()
        )
        if not answered:
            found.append((item, max(sent)))
    return found


def register(
    store: Store, item: dict[str, Any], sent_at: str, *, batch: str, run_id: str, domain: str
) -> str:
    """The follow-up as a work item already triaged (by code: nothing to classify), threaded
    under our reply, with the triage row the drafter reads."""
    fid = follow_up_id(item["id"])
    reply = next(
        d
        for d in store.deliveries_for(item["id"])
        if d["purpose"] == "reply" and d["state"] == "confirmed"
    )
    triage = valid_output(store, item["id"], "triage") or {}
    store.register(
        {
            "id": fid,
            "source": f"followup:{item['id']}",
            "kind": KIND,
            "sender": item["sender"],
            "sender_name": item["sender_name"],
            "reply_to": item["reply_to"],
            "subject": item["subject"],
            "body": item["body"],
            # Our reply's Message-ID (the composer's: key @ our domain): the nudge threads under it.
            "message_id": f"<{reply['id']}@{domain}>",
            "references": [
                *(item["references"] or []),
                *([item["message_id"]] if item["message_id"] else []),
            ],
            "received_at": sent_at,
            "state": "triaged",
            "category": item["category"],
            "urgency": "normal",
            "route": "reply_draft",
        },
        batch=batch,
        actor="follow_ups",
    )
    output = {
        "category": item["category"] or "other",
        "summary": SUMMARY.format(
            date=sent_at[:10], about=triage.get("summary") or item["subject"] or "their message"
        )[:200],
        "customer_name": triage.get("customer_name") or "",
        "company": triage.get("company") or "",
        "amount": "",
        "question": "",
        "urgency": "normal",
    }
    row = output_row(
        asset="triage",
        batch=batch,
        run_id=run_id,
        prompt_version=PROMPT_VERSION,
        result=None,
        output=output,
        input_hash=item["id"],
        failure=None,
    )
    store.save_output({**row, "item_id": fid, "model": "code"})
    return fid
