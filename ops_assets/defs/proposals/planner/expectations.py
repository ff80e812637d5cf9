"""The proposal_plan suite: a bounded plan with a scope, a price basis and every criterion."""

from typing import Any

from ops_assets.defs.proposals.planner.contract import Plan
from ops_assets.governance.secrets import find_secrets
from ops_assets.quality.suites import Rule

SUITE = "proposal_plan"
MIN_STEPS, MAX_STEPS = 3, 7


def rules() -> list[Rule]:
    # Order matters: a plan's first failing rule is the reason the owner sees.
    return [
        Rule("too_few_steps", "enough_steps", one_of=(True,)),
        Rule("too_many_steps", "not_too_many_steps", one_of=(True,)),
        Rule("no_scope_step", "has_scope", one_of=(True,)),
        Rule("no_price_basis", "has_price_basis", one_of=(True,)),
        Rule("criterion_missing", "criteria_complete", one_of=(True,)),
        Rule("secret", "secrets_found", one_of=(False,)),
    ]


def row(item_id: str, plan: Plan) -> dict[str, Any]:
    kinds = [s.kind for s in plan.steps]
    text = " ".join(f"{s.description} {s.success_criterion}" for s in plan.steps)
    return {
        "item_id": item_id,
        "enough_steps": len(plan.steps) >= MIN_STEPS,
        "not_too_many_steps": len(plan.steps) <= MAX_STEPS,
        "has_scope": "scope" in kinds,
        "has_price_basis": "price_basis" in kinds,
        "criteria_complete": all(s.success_criterion.strip() for s in plan.steps),
        "secrets_found": bool(find_secrets(text)),
    }
