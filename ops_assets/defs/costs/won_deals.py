"""Cost per won deal (issue 18 §2, outcomes): an accepted proposal is an outcome. Its cost is
every model call of the lead and of the items that belong to its deal (the client's answers,
a revision written for one, our nudges: deals.py's `lead_of`), so a deal's spend is counted
once however many mails it took. Amounts in integer nano-dollars like the cost report."""

from collections import defaultdict
from typing import Any

from ops_assets.defs.proposals.deals import lead_of
from ops_assets.observability.costs import NANO
from resources.store import Store


def won_deals(st: Store) -> dict[str, Any]:
    """`deals_won`, their model spend, `cost_per_won_deal_usd` (None before the first), and
    per deal: its lead, amount, calls and cost."""
    calls, _ = st.ledger()
    won = {d["source_item_id"]: d for d in st.deals() if d["stage"] == "accepted"}
    spend: dict[str, int] = defaultdict(int)
    count: dict[str, int] = defaultdict(int)
    leads: dict[str, str] = {}
    for call in calls:
        item_id = call["item_id"]
        if not item_id:
            continue
        if item_id not in leads:
            leads[item_id] = lead_of(st, item_id)
        lead = leads[item_id]
        if lead in won:
            spend[lead] += round(call["cost_usd"] * NANO)
            count[lead] += 1
    total = sum(spend.values())
    return {
        "deals_won": len(won),
        "cost_usd": total / NANO,
        "cost_per_won_deal_usd": (total / NANO / len(won)) if won else None,
        "deals": [
            {
                "deal": deal["id"],
                "lead_item_id": lead,
                "amount": deal["amount"],
                "model_calls": count[lead],
                "cost_usd": spend[lead] / NANO,
            }
            for lead, deal in won.items()
        ],
    }
