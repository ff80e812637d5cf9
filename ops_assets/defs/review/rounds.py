"""Review's two rounds: the verifier judges each open draft; "revise" sends it back to the
drafter with the feedback, and a repaired draft that passes the row rules is judged again."""

from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from ops_assets.agents.agent_run import RETRYABLE
from ops_assets.agents.prompting import NOTHING_ON_RECORD
from ops_assets.defs.reply_draft import expectations as draft_rules
from ops_assets.defs.reply_draft import prompt as draft_prompt
from ops_assets.defs.reply_draft.compose import strip_sign_off
from ops_assets.defs.reply_draft.contract import ReplyDraft
from ops_assets.defs.review import expectations, prompt
from ops_assets.defs.review.contract import Review
from ops_assets.quality import failures as failure_log
from ops_assets.quality.suites import SuiteOutcome, validate
from resources.llm.client import CallRequest, CallResult
from resources.store import Store


@dataclass
class Case:
    """One draft on its way through review and repair."""

    item: dict[str, Any]
    triage: dict[str, Any]
    draft_row: dict[str, Any]
    body: str
    revisions: int = 0
    feedback: str = ""
    review: dict[str, Any] | None = None
    results: list[CallResult] = field(default_factory=list)
    invite: dict[str, Any] | None = None
    """Proposed meeting slots, when the mail asks to meet."""
    outcome: str | None = None
    """None while open; then "pass", or the reason code it rests with."""
    error: CallResult | None = None
    """A call that got no answer (model down, budget, kill switch): the item is deferred."""
    known: str = NOTHING_ON_RECORD
    """What memory the reviewer sees (its own recorded context)."""
    known_ids: list[str] = field(default_factory=list)
    drafted_with: str = NOTHING_ON_RECORD
    """What memory the drafter saw: a repair continues that conversation."""

    @property
    def open(self) -> bool:
        return self.outcome is None and self.error is None


def review_round(
    client: Any,
    cases: list[Case],
    config: Any,
    st: Store,
    suite_outcomes: list[SuiteOutcome],
    context: dg.AssetExecutionContext,
) -> list[Case]:
    """Review each open draft; returns the cases to repair."""
    requests = [
        CallRequest(
            "review",
            c.item["id"],
            prompt.messages(c.item, c.triage, c.body, config, memory=c.known),
            Review,
            prompt.VERSION,
        )
        for c in cases
    ]
    results = client.run(requests)
    answered = []
    for case, request, result in zip(cases, requests, results, strict=True):
        case.results.append(result)
        if result.error_code in RETRYABLE:
            case.error = result  # no answer: nothing to judge, nothing to record
            continue
        if result.error_code:
            case.outcome = result.error_code
            log_failure(
                st, case, failure_log.SCHEMA_ERROR, result.error_code, request, context, "review"
            )
            continue
        if not (isinstance(result.output, Review)):  # an invariant, kept under python -O
            raise RuntimeError("invariant broken: isinstance(result.output, Review)")
        case.review = result.output.model_dump()
        answered.append((case, request))
    suite = validate(
        expectations.SUITE,
        [expectations.row(c.item["id"], c.review or {}) for c, _ in answered],
        expectations.rules(),
    )
    suite_outcomes.append(suite)
    to_repair = []
    for case, request in answered:
        review = case.review or {}
        unusable = suite.first_reason(case.item["id"])
        if unusable:
            case.outcome = unusable
            log_failure(st, case, failure_log.CHECK_FAILURE, unusable, request, context, "review")
            continue
        if review["verdict"] == "pass":
            case.outcome, case.feedback = "pass", ""
            continue
        reason = "reviewer_" + review["verdict"]
        # Charged to the prompt that wrote the rejected body: the drafter's or the repair's.
        wrote = draft_prompt.REPAIR_VERSION if case.revisions else case.draft_row["prompt_version"]
        log_failure(
            st,
            case,
            failure_log.REVIEWER_REJECTION,
            reason,
            request,
            context,
            "reply_draft",
            version=wrote,
        )
        if review["verdict"] == "human":
            case.outcome = "reviewer_human"
        elif case.revisions >= config.quality.max_revisions:
            case.outcome = "revise_limit"
        else:
            case.feedback = review["feedback"]
            to_repair.append(case)
    return to_repair


def repair_round(
    client: Any, cases: list[Case], config: Any, st: Store, context: dg.AssetExecutionContext
) -> list[Case]:
    """Redraft with the feedback; returns the repaired drafts that passed the row rules."""
    requests = [
        CallRequest(
            "reply_draft",
            c.item["id"],
            draft_prompt.repair_messages(
                c.item, c.triage, config, c.body, c.feedback, memory=c.drafted_with
            ),
            ReplyDraft,
            draft_prompt.REPAIR_VERSION,
        )
        for c in cases
    ]
    results = client.run(requests)
    repaired = []
    for case, request, result in zip(cases, requests, results, strict=True):
        case.results.append(result)
        case.revisions += 1
        if result.error_code in RETRYABLE:
            case.error = result
            continue
        if result.error_code:
            case.outcome = result.error_code
            log_failure(
                st,
                case,
                failure_log.SCHEMA_ERROR,
                result.error_code,
                request,
                context,
                "reply_draft",
            )
            continue
        if not (isinstance(result.output, ReplyDraft)):  # an invariant, kept under python -O
            raise RuntimeError("invariant broken: isinstance(result.output, ReplyDraft)")
        case.body = strip_sign_off(result.output.body, config.identity)
        repaired.append((case, request))
    suite = validate(
        draft_rules.SUITE,
        [draft_rules.row(c.item["id"], c.body) for c, _ in repaired],
        draft_rules.rules(config.quality),
    )
    to_review = []
    for case, request in repaired:
        broken = suite.first_reason(case.item["id"])
        if broken is None:
            case.feedback = ""
            to_review.append(case)
            continue
        log_failure(st, case, failure_log.CHECK_FAILURE, broken, request, context, "reply_draft")
        if case.revisions >= config.quality.max_revisions:
            case.outcome = broken
        else:
            # Back to repair with the broken rule as the feedback; the reviewer sees only
            # drafts that pass the rules.
            case.feedback = f"The reply breaks the rule '{broken}'. Fix that."
    return to_review


def log_failure(
    st: Store,
    case: Case,
    kind: str,
    reason: str,
    request: CallRequest,
    context: dg.AssetExecutionContext,
    agent: str,
    *,
    version: str | None = None,
) -> None:
    last = case.results[-1]
    st.record_failure(
        item_id=case.item["id"],
        agent=agent,
        kind=kind,
        reason=reason,
        prompt_version=version or request.prompt_version,
        model=last.model,
        run_id=context.run.run_id,
        input=request.messages,
        output={"draft": case.body, "review": case.review},
    )


def merged(outcomes: list[SuiteOutcome]) -> SuiteOutcome:
    merged = SuiteOutcome(expectations.SUITE, sum(o.rows for o in outcomes))
    for outcome in outcomes:
        for item_id, reasons in outcome.failing.items():
            merged.failing.setdefault(item_id, []).extend(reasons)
        for reason, count in outcome.unexpected.items():
            merged.unexpected[reason] = merged.unexpected.get(reason, 0) + count
    return merged
