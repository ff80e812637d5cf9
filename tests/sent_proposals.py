"""A proposal already sent, seeded through the store (for the tests of what follows a send:
the client's answers, nudges, the pipeline): the lead, its plan, a version priced from the
sample catalogue by the executor's own code, a confirmed delivery of purpose `proposal`, the
deal at `proposal_sent`; and a client's answer on that thread, as triage leaves it for the
workflow (`triaged`, route `proposals`)."""

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

LEAD_BODY = (
    "Hi, we are a yoga studio and would like a quote for a new six page website with "
    "online class booking. What would it cost, and what do you need from us?"
)
DOMAIN = "opsbench.example"
PLAN = [
    {"kind": "scope", "description": "Six pages and booking.", "criterion": "Lists pages."},
    {"kind": "timeline", "description": "Start and duration.", "criterion": "Says when."},
    {"kind": "price_basis", "description": "Per page.", "criterion": "Priced per unit."},
]


def draft_answer(**change: Any) -> dict[str, Any]:
    """An executor answer (codes and quantities, never an amount)."""
    answer: dict[str, Any] = {
        "title": "A new website with class booking for Greenleaf Yoga",
        "summary": "Six designed pages and online class booking, built on what you have.",
        "scope": [
            {"heading": "Pages", "text": "Home, classes, teachers, prices, contact and blog."},
            {"heading": "Booking", "text": "Online class booking with payment."},
        ],
        "lines": [
            {"code": "WEB-PAGE", "quantity": 6},
            {"code": "SHOP", "quantity": 1},
            {"code": "DISC", "quantity": 1},
        ],
        "start_in_days": 14,
        "duration_weeks": 6,
        "cover_mail": "Hi Meg,\n\nThank you for your enquiry. Please find our proposal "
        "attached; I am happy to walk you through it.",
    }
    answer.update(change)
    return answer


@dataclass
class Sent:
    lead: dict[str, Any]
    version: dict[str, Any]
    delivery: dict[str, Any]


def send_proposal(
    store: Any, name: str = "lead", *, sent_at: dt.datetime | None = None, lead_id: str = ""
) -> Sent:
    from ops_assets.defs.proposals.catalogue import SAMPLE_CATALOGUE, load_catalogue
    from ops_assets.defs.proposals.deals import amount_of, move_deal
    from ops_assets.defs.proposals.executor.contract import ProposalDraft
    from ops_assets.defs.proposals.executor.pricing import price
    from resources.store import proposals as rows
    from resources.store import schema as t

    catalogue = load_catalogue(SAMPLE_CATALOGUE)
    lead_id = lead_id or f"{name}-item"
    store.register(
        {
            "id": lead_id,
            "source": f"test:{name}",
            "kind": "email",
            "sender": "meg@greenleafyoga.example",
            "sender_name": "Meg O'Connell",
            "subject": "Quote for a new website",
            "body": LEAD_BODY,
            "message_id": f"<{name}@greenleafyoga.example>",
            "references": [],
            "state": "delivered",
            "category": "sales",
            "route": "proposals",
        },
        batch=None,
        actor="test",
    )
    rows.save_plan(store, lead_id, PLAN, prompt_version="test")
    answer = ProposalDraft.model_validate(draft_answer())
    priced = price(answer, catalogue, dt.date.today())
    markdown = f"# {answer.title}\n\n{answer.summary}\n"
    number = rows.add_version(
        store,
        {
            "item_id": lead_id,
            "title": answer.title,
            "markdown": markdown,
            "lines": priced.lines,
            "total": float(priced.total),
            "currency": catalogue.currency,
            "valid_until": priced.valid_until.isoformat(),
            "start_date": priced.start_date.isoformat(),
            "to_address": "meg@greenleafyoga.example",
            "subject": "Re: Quote for a new website",
            "cover_mail": answer.cover_mail,
            "content_sha256": hashlib.sha256(markdown.encode()).hexdigest(),
            "catalogue_version": catalogue.version,
            "prompt_version": "test",
            "corrections": [],
            "feedback": None,
            "reason_code": None,
        },
    )
    rows.set_status(store, lead_id, number, "sent", actor="test", expect=("drafted",))
    version = rows.get_version(store, lead_id, number)
    delivery_id = "dlv_" + hashlib.sha256(lead_id.encode()).hexdigest()[:20]
    store.delivery_intent(
        {
            "id": delivery_id,
            "item_id": lead_id,
            "destination": "meg@greenleafyoga.example",
            "purpose": "proposal",
            "connector": "smtp",
            "content_hash": version["content_sha256"],
        }
    )
    store.delivery_mark(delivery_id, "confirmed")
    if sent_at is not None:
        with store.tx() as conn:
            conn.execute(
                sa.update(t.deliveries)
                .where(t.deliveries.c.id == delivery_id)
                .values(created_at=sent_at.isoformat(), updated_at=sent_at.isoformat())
            )
    move_deal(store, store.get_item(lead_id), "proposal_sent", amount=amount_of(version))
    (delivery,) = store.deliveries_for(lead_id)
    return Sent(store.get_item(lead_id), version, delivery)


def client_answer(
    store: Any, sent: Sent, body: str, name: str = "answer", **fields: Any
) -> dict[str, Any]:
    """The client's mail on the proposal's thread, as triage routes it (`triaged`,
    route `proposals`): seeded directly, so these tests do not depend on triage."""
    item_id = f"{name}-item"
    store.register(
        {
            "id": item_id,
            "source": f"test:{name}",
            "kind": "email",
            "sender": "meg@greenleafyoga.example",
            "sender_name": "Meg O'Connell",
            "subject": "Re: Quote for a new website",
            "body": body,
            "message_id": f"<{name}@greenleafyoga.example>",
            "in_reply_to": f"<{sent.delivery['id']}@{DOMAIN}>",
            "references": [f"<{sent.delivery['id']}@{DOMAIN}>"],
            "state": "triaged",
            "category": "sales",
            "route": "proposals",
            **fields,
        },
        batch=None,
        actor="test",
    )
    return store.get_item(item_id)
