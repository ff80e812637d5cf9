"""The proposal_verdict suite: every step judged once, every verdict with its evidence."""

from typing import Any

from ops_assets.defs.proposals.verifier.contract import CriterionVerdicts
from ops_assets.quality.suites import Rule

SUITE = "proposal_verdict"


def rules() -> list[Rule]:
    return [
        Rule("criterion_not_judged", "all_steps_judged", one_of=(True,)),
        Rule("evidence_missing", "evidence_given", one_of=(True,)),
    ]


def row(item_id: str, verdicts: CriterionVerdicts, steps: int) -> dict[str, Any]:
    judged = sorted(v.step for v in verdicts.verdicts)
    return {
        "item_id": item_id,
        "all_steps_judged": judged == list(range(1, steps + 1)),
        "evidence_given": all(v.evidence.strip() for v in verdicts.verdicts),
    }
