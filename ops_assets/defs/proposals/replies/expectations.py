"""The proposal_answer suite: a request for changes names them, an acceptance or a decline
carries no conditions (a conditional yes is for the owner), no secrets."""

from typing import Any

from ops_assets.defs.proposals.replies.contract import ClientAnswer
from ops_assets.governance.secrets import find_secrets
from ops_assets.quality.suites import Rule

SUITE = "proposal_answer"


def rules() -> list[Rule]:
    # Order matters: an answer's first failing rule is the reason the owner sees.
    return [
        Rule("revision_without_changes", "changes_named", one_of=(True,)),
        Rule("conditional_answer", "unconditional", one_of=(True,)),
        Rule("secret", "secrets_found", one_of=(False,)),
    ]


def row(item_id: str, answer: ClientAnswer) -> dict[str, Any]:
    changes = [c for c in answer.changes if c.strip()]
    return {
        "item_id": item_id,
        "changes_named": answer.outcome != "revision_requested" or bool(changes),
        "unconditional": answer.outcome not in ("accepted", "declined") or not changes,
        "secrets_found": bool(find_secrets(" ".join([answer.summary, *changes]))),
    }
