"""The review suite: a reviewer's answer must be usable before its verdict is acted on."""

from typing import Any

from ops_assets.quality.suites import Rule

SUITE = "review"


def rules() -> list[Rule]:
    return [
        Rule("verdict_unknown", "verdict", one_of=("pass", "revise", "human")),
        # A revision nobody can act on would loop on the same draft.
        Rule("revise_without_feedback", "revise_without_feedback", one_of=(False,)),
        Rule("pass_with_reasons", "pass_with_reasons", one_of=(False,)),
    ]


def row(item_id: str, review: dict[str, Any]) -> dict[str, Any]:
    return {
        "item_id": item_id,
        "verdict": review["verdict"],
        "revise_without_feedback": review["verdict"] == "revise" and not review["feedback"].strip(),
        "pass_with_reasons": review["verdict"] == "pass" and bool(review["reasons"]),
    }
