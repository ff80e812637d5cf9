"""Prices by code: each line from the catalogue by its code, the total their sum, the dates
from today. What the model wrote about a price is corrected here and recorded."""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ops_assets.defs.proposals.catalogue import Catalogue, money
from ops_assets.defs.proposals.executor.contract import ProposalDraft


@dataclass
class Priced:
    lines: list[dict[str, Any]] = field(default_factory=list)
    total: Decimal = Decimal("0")
    start_date: dt.date = dt.date.min
    end_date: dt.date = dt.date.min
    valid_until: dt.date = dt.date.min
    corrections: list[dict[str, Any]] = field(default_factory=list)
    """What code changed in the model's answer (a price it named, a start too soon)."""
    problems: list[str] = field(default_factory=list)
    """Reason codes of lines that cannot be priced (an unknown code, too many units)."""


def price(draft: ProposalDraft, catalogue: Catalogue, today: dt.date) -> Priced:
    priced = Priced()
    for choice in draft.lines:
        service = catalogue.service(choice.code.strip().upper())
        if service is None:
            priced.problems.append("unknown_service")
            continue
        if choice.quantity > service.max_quantity:
            priced.problems.append("quantity_over_limit")
            continue
        if choice.unit_price is not None and money(Decimal(str(choice.unit_price))) != money(
            service.unit_price
        ):
            priced.corrections.append(
                {
                    "field": "unit_price",
                    "code": service.code,
                    "model": str(choice.unit_price),
                    "catalogue": str(service.unit_price),
                }
            )
        amount = money(service.unit_price * choice.quantity)
        priced.lines.append(
            {
                "code": service.code,
                "name": service.name,
                "unit": service.unit,
                "quantity": choice.quantity,
                "unit_price": str(money(service.unit_price)),
                "amount": str(amount),
            }
        )
        priced.total += amount
    priced.total = money(priced.total)
    start_in = max(draft.start_in_days, catalogue.earliest_start_days)
    if start_in != draft.start_in_days:
        priced.corrections.append(
            {"field": "start_in_days", "model": draft.start_in_days, "catalogue": start_in}
        )
    priced.start_date = today + dt.timedelta(days=start_in)
    priced.end_date = priced.start_date + dt.timedelta(weeks=draft.duration_weeks)
    priced.valid_until = today + dt.timedelta(days=catalogue.validity_days)
    return priced
