"""The deal pipeline by stage with its value, for `opsbench crm`: a deal's amount is the
proposal total the workflow priced ("5700.00 EUR"); a free-text amount triage read from a
mail ("about 5k") counts the deal but not its value."""

import re
from typing import Any, TypedDict

STAGE_ORDER = (
    "lead", "contacted", "proposal_sent", "revision_requested", "stalled", "accepted", "declined",
)  # fmt: skip
PRICED = re.compile(r"^(\d+(?:\.\d+)?) ([A-Z]{3})$")


class StageRow(TypedDict):
    deals: int
    value: dict[str, float]
    """Currency -> the sum of the priced amounts at this stage."""


def pipeline_by_stage(deals: list[dict[str, Any]]) -> dict[str, StageRow]:
    found: dict[str, StageRow] = {}
    for deal in deals:
        row = found.setdefault(deal["stage"], {"deals": 0, "value": {}})
        row["deals"] += 1
        priced = PRICED.match((deal.get("amount") or "").strip())
        if priced:
            amount, currency = float(priced.group(1)), priced.group(2)
            row["value"][currency] = round(row["value"].get(currency, 0.0) + amount, 2)
    order = {s: n for n, s in enumerate(STAGE_ORDER)}
    return dict(sorted(found.items(), key=lambda kv: order.get(kv[0], len(order))))
