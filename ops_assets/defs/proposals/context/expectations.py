"""The proposal_context suite: a brief names at least one need and carries no secret."""

from typing import Any

from ops_assets.defs.proposals.context.contract import LeadBrief
from ops_assets.governance.secrets import find_secrets
from ops_assets.quality.suites import Rule

SUITE = "proposal_context"


def rules() -> list[Rule]:
    return [
        Rule("no_needs", "has_needs", one_of=(True,)),
        Rule("secret", "secrets_found", one_of=(False,)),
    ]


def row(item_id: str, brief: LeadBrief) -> dict[str, Any]:
    text = " ".join([brief.client_name, brief.company, *brief.needs, brief.budget_hint])
    return {
        "item_id": item_id,
        "has_needs": any(n.strip() for n in brief.needs),
        "secrets_found": bool(find_secrets(text)),
    }
