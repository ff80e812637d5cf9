"""The crm asset: contacts and deals kept from triage and delivery outcomes, by code.

An executor, not a writer: it reads what triage found (name, company, category, amount) and
what delivery did, and applies idempotent upserts — a contact per sender, a deal per sales
mail (`lead`, then `contacted` once a reply went out). Re-running it changes nothing.
"""

import hashlib
from collections import defaultdict
from typing import Any

import dagster as dg

from ops_assets.agents.agent_run import valid_output
from resources.scopes import require_scope
from resources.settings import SettingsResource
from resources.store import Store
from resources.store.mailbox_links import answered_delivery
from resources.store.resource import StoreResource

# Mail that is no contact: unusable, repeated, or our own follow-ups.
NOT_CONTACTS = ("quarantined", "duplicate")
# Stages only this asset writes; past them the proposals workflow moves the deal.
CRM_STAGES = ("lead", "contacted")


@dg.asset(group_name="outcomes", kinds={"sqlite"}, deps=["delivery"])
def crm(settings: SettingsResource, store: StoreResource) -> dg.MaterializeResult:
    """Contacts per sender and deals per sales mail, from triage and delivery outcomes."""
    st = store.get()
    require_scope(st, "crm", "connector:crm", settings.policy().scopes)
    contacts_changed, deals_changed = sync(st)
    return dg.MaterializeResult(
        metadata={
            "contacts": len(st.contacts()),
            "deals": len(st.deals()),
            "contacts_changed": contacts_changed,
            "deals_changed": deals_changed,
        }
    )


def sync(st: Store) -> tuple[int, int]:
    by_sender: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in st.items():
        if item["state"] not in NOT_CONTACTS and item["sender"] and item["kind"] != "follow_up":
            by_sender[item["sender"].lower()].append(item)
    contacts_changed = deals_changed = 0
    own_deals = {d["source_item_id"]: d["stage"] for d in st.deals()}
    for sender, mails in by_sender.items():
        triaged = [(i, valid_output(st, i["id"], "triage")) for i in mails]
        known = [(i, out) for i, out in triaged if out is not None and out["category"] != "spam"]
        if not known:
            continue  # rules settled them (bounces, lists, spam): nobody to keep
        mails.sort(key=lambda i: i["received_at"] or i["created_at"])
        newest = max(known, key=lambda pair: pair[0]["received_at"] or pair[0]["created_at"])
        answered = {i["id"] for i in mails if _replied(st, i["id"])}
        contact = {
            "email": sender,
            "name": newest[1]["customer_name"] or newest[0]["sender_name"] or None,
            "company": next((out["company"] for _, out in reversed(known) if out["company"]), None),
            "messages": len(mails),
            "replies_sent": len(answered),
            "last_category": newest[1]["category"],
            "first_seen": mails[0]["received_at"] or mails[0]["created_at"],
            "last_seen": mails[-1]["received_at"] or mails[-1]["created_at"],
        }
        contacts_changed += st.upsert_contact(contact)
        for item, out in known:
            if out["category"] != "sales":
                continue
            if own_deals.get(item["id"], "lead") not in CRM_STAGES:
                continue  # a proposal moved it on: never back to lead or contacted
            if _answers_a_proposal(st, item):
                continue  # the client's answer belongs to the lead's deal, not one of its own
            deal = {
                "id": "deal_" + hashlib.sha256(item["id"].encode()).hexdigest()[:12],
                "contact_email": sender,
                "source_item_id": item["id"],
                "title": (item["subject"] or "")[:120],
                "amount": out["amount"] or None,
                # From the ledger, not the item's state: a later correction never undoes a
                # reply that went out.
                "stage": "contacted" if item["id"] in answered else "lead",
            }
            deals_changed += st.upsert_deal(deal)
    return contacts_changed, deals_changed


def _answers_a_proposal(st: Store, item: dict[str, Any]) -> bool:
    answered = answered_delivery(st, item)
    return answered is not None and answered["purpose"] == "proposal"


def _replied(st: Store, item_id: str) -> bool:
    return any(
        d["purpose"] == "reply" and d["state"] == "confirmed" for d in st.deliveries_for(item_id)
    )
