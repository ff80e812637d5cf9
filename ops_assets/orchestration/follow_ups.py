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
    return register_triaged(
        store,
        item,
        fid,
        source=f"followup:{item['id']}",
        # Our reply's Message-ID (the composer's: key @ our domain): the nudge threads under it.
        message_id=f"<{reply['id']}@{domain}>",
        received_at=sent_at,
        category=item["category"] or "other",
        summary=SUMMARY.format(
            date=sent_at[:10], about=triage.get("summary") or item["subject"] or "their message"
        ),
        customer_name=triage.get("customer_name") or "",
        company=triage.get("company") or "",
        prompt_version=PROMPT_VERSION,
        input_hash=item["id"],
        batch=batch,
        run_id=run_id,
        actor="follow_ups",
    )


def register_triaged(
    store: Store,
    item: dict[str, Any],
    new_id: str,
    *,
    source: str,
    message_id: str,
    received_at: str,
    category: str,
    summary: str,
    customer_name: str,
    company: str,
    prompt_version: str,
    input_hash: str,
    batch: str,
    run_id: str,
    actor: str,
) -> str:
    """A follow-up of `item` (a reply's, or a proposal's nudge) registered already triaged for
    the reply path, threaded under `message_id` (ours), with the code-written triage row the
    drafter reads."""
    store.register(
        {
            "id": new_id,
            "source": source,
            "kind": KIND,
            "sender": item["sender"],
            "sender_name": item["sender_name"],
            "reply_to": item["reply_to"],
            "subject": item["subject"],
            "body": item["body"],
            "message_id": message_id,
            "references": [
                *(item["references"] or []),
                *([item["message_id"]] if item["message_id"] else []),
            ],
            "received_at": received_at,
            "state": "triaged",
            "category": category,
            "urgency": "normal",
            "route": "reply_draft",
        },
        batch=batch,
        actor=actor,
    )
    output = {
        "category": category,
        "summary": summary[:200],
        "customer_name": customer_name,
        "company": company,
        "amount": "",
        "question": "",
        "urgency": "normal",
    }
    row = output_row(
        asset="triage",
        batch=batch,
        run_id=run_id,
        prompt_version=prompt_version,
        result=None,
        output=output,
        input_hash=input_hash,
        failure=None,
    )
    store.save_output({**row, "item_id": new_id, "model": "code"})
    return new_id
