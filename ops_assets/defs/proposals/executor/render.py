"""The proposal as Markdown: the model's prose, the code's table and dates."""

from typing import Any

from ops_assets.defs.proposals.executor.contract import ProposalDraft
from ops_assets.defs.proposals.executor.pricing import Priced


def markdown(
    draft: ProposalDraft,
    priced: Priced,
    *,
    currency: str,
    business: str,
    client: str,
    plan: list[dict[str, Any]],
) -> str:
    out = [f"# {draft.title}", "", f"Prepared by {business} for {client or 'you'}.", ""]
    out += ["## Summary", "", draft.summary.strip(), ""]
    out += ["## Scope of work", ""]
    for section in draft.scope:
        out += [f"### {section.heading}", "", section.text.strip(), ""]
    questions = [s["description"] for s in plan if s["kind"] == "question"]
    if questions:
        out += ["## Open questions", "", *(f"- {q}" for q in questions), ""]
    out += [
        "## Price",
        "",
        f"| Code | Service | Quantity | Unit price ({currency}) | Amount ({currency}) |",
        "|---|---|---|---|---|",
    ]
    out += [
        f"| {x['code']} | {x['name']} | {x['quantity']} {x['unit']} | {x['unit_price']} "
        f"| {x['amount']} |"
        for x in priced.lines
    ]
    out += [f"| | **Total** | | | **{priced.total}** |", ""]
    out += [
        "## Timeline",
        "",
        f"Start: {priced.start_date.isoformat()}. Expected completion: "
        f"{priced.end_date.isoformat()}.",
        "",
        f"This proposal is valid until {priced.valid_until.isoformat()}.",
        "",
    ]
    return "\n".join(out)
