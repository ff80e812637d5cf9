"""The verifier's checks by code, as rows: every amount is the catalogue's price times the
quantity, the total adds up and is the one the document shows, the dates lie ahead, and
nothing in the artifact commits the owner beyond the written policy."""

import datetime as dt
from decimal import Decimal
from typing import Any

from ops_assets.defs.proposals.catalogue import Catalogue, money
from ops_assets.defs.proposals.executor.expectations import COMMITMENT

Row = dict[str, Any]


def code_rows(version: Row, catalogue: Catalogue, today: dt.date) -> list[Row]:
    rows: list[Row] = []

    def check(name: str, passed: bool, evidence: str) -> None:
        rows.append({"kind": "code", "name": name, "passed": passed, "evidence": evidence})

    lines = version["lines"] or []
    check(
        "draft_rules",
        version["reason_code"] is None,
        version["feedback"] or "every line priced, prose without prices, dates or commitments",
    )
    check("has_lines", bool(lines), f"{len(lines)} priced lines")
    total = Decimal("0")
    for line in lines:
        service = catalogue.service(line["code"])
        amount = Decimal(line["amount"])
        total += amount
        if service is None:
            check("amount_matches_catalogue", False, f"{line['code']}: not in the catalogue")
            continue
        expected = money(service.unit_price * int(line["quantity"]))
        ok = Decimal(line["unit_price"]) == money(service.unit_price) and amount == expected
        row = (
            f"| {line['code']} | {line['name']} | {line['quantity']} {line['unit']} | "
            f"{money(service.unit_price)} | {expected} |"
        )
        shown = row in version["markdown"]
        check(
            "amount_matches_catalogue",
            ok and shown,
            f"{line['code']}: {line['quantity']} x {money(service.unit_price)} = {expected}; "
            f"stated {amount}" + ("" if shown else "; the document's table differs"),
        )
    stated = money(Decimal(str(version["total"])))
    shown_total = f"**{stated}**" in version["markdown"]
    check(
        "total_adds_up",
        money(total) == stated and shown_total,
        f"lines sum to {money(total)}; stated {stated}"
        + ("" if shown_total else "; the document shows another total"),
    )
    for name in ("start_date", "valid_until"):
        day = dt.date.fromisoformat(version[name])
        check(f"{name}_in_future", day > today, f"{name} {day.isoformat()}, today {today}")
    found = COMMITMENT.search(f"{version['markdown']}\n{version['cover_mail']}")
    check(
        "no_commitment_outside_policy",
        found is None,
        f"commits to: {found.group(0)!r}" if found else "no discount, refund or guarantee",
    )
    return rows


def criterion_rows(plan: list[Row], verdicts: dict[int, Any]) -> list[Row]:
    rows = []
    for step in plan:
        verdict = verdicts.get(step["step"])
        rows.append(
            {
                "kind": "criterion",
                "name": f"step_{step['step']}_{step['kind']}",
                "passed": bool(verdict is not None and verdict.met),
                "evidence": (verdict.evidence if verdict is not None else "not judged")
                or "no evidence",
            }
        )
    return rows
