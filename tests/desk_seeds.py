"""Rows the desk's tests seed through the store's own functions: a proposal waiting for the
owner's approval (resources/store/proposals.py), with a plan, two versions and the verifier's
rows for the second."""

import hashlib

from resources.store import proposals

ITEM = "itm_proposal01"
PLAN = [
    {"kind": "scope", "description": "Six pages and booking.", "criterion": "Lists pages."},
    {"kind": "price_basis", "description": "Per page.", "criterion": "Priced per unit."},
]


def _version(markdown: str, total: float) -> dict:
    return {
        "item_id": ITEM,
        "title": "A website for Greenleaf Yoga",
        "markdown": markdown,
        "lines": [
            {"code": "WEB-PAGE", "quantity": 6, "unit": "page", "unit_price": 400, "amount": 2400}
        ],
        "total": total,
        "currency": "EUR",
        "valid_until": "2027-01-31",
        "start_date": "2026-12-15",
        "to_address": "meg@greenleafyoga.example",
        "subject": "Re: Quote for a new website",
        "cover_mail": "Hi Meg, the proposal is attached.",
        "content_sha256": hashlib.sha256(markdown.encode()).hexdigest(),
        "catalogue_version": "test",
        "prompt_version": "test",
        "corrections": [],
        "feedback": None,
        "reason_code": None,
    }


def seed_proposal(store) -> None:  # type: ignore[no-untyped-def]
    """A lead routed to proposals, two versions (the second revised), waiting for approval."""
    store.register(
        {
            "id": ITEM,
            "source": "test:proposal",
            "kind": "email",
            "sender": "meg@greenleafyoga.example",
            "subject": "Quote for a new website",
            "body": "What would a six page site with booking cost?",
            "message_id": "<lead@greenleafyoga.example>",
            "references": [],
            "state": "awaiting_approval",
            "category": "sales",
            "route": "proposals",
        },
        batch=None,
        actor="test",
    )
    proposals.save_plan(store, ITEM, PLAN, prompt_version="test")
    proposals.add_version(store, _version("# A website\n\nSix pages.\n", 2400.0))
    second = proposals.add_version(store, _version("# A website\n\nSix pages and booking.\n", 2900))
    proposals.set_status(
        store, ITEM, second, "awaiting_approval", actor="test", expect=("drafted",)
    )
    proposals.save_checks(
        store,
        ITEM,
        second,
        [
            {"kind": "code", "name": "prices_from_catalogue", "passed": True, "evidence": "ok"},
            {"kind": "model", "name": "covers_step_1", "passed": False, "evidence": "no list"},
        ],
    )
