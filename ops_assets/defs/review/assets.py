"""The review asset: a verifier scores each checked draft; "revise" sends it back for repair
with the reviewer's feedback, at most quality.max_revisions times; then the approval gate."""

import datetime as dt
from collections import Counter
from typing import Any

import dagster as dg

from ops_assets.agents import scheduling
from ops_assets.agents.agent_run import (
    batch_metadata,
    final_draft,
    output_row,
    rest_after_failure,
    valid_output,
)
from ops_assets.agents.context import contexts_for, memory_metadata, recorded_context
from ops_assets.agents.prompting import NOTHING_ON_RECORD, combined_version
from ops_assets.defs.reply_draft import prompt as draft_prompt
from ops_assets.defs.review import prompt
from ops_assets.defs.review.rounds import Case, merged, repair_round, review_round
from ops_assets.governance.gate import gate
from ops_assets.orchestration.partitions import batches
from ops_assets.quality.batch_checks import (
    check_specs,
    hold_if_blocked,
    rate_check,
    suite_check,
)
from ops_assets.quality.suites import SuiteOutcome
from resources.llm.resource import LLMResource
from resources.memory import MemoryResource
from resources.settings import SettingsResource
from resources.store import Store
from resources.store.resource import StoreResource

SUITE_CHECK = "review_suite"
RATE_CHECK = "review_rejection_rate_within_limit"
# The asset runs two prompts (review and repair): a change to either makes it stale.
CODE_VERSION = combined_version("review", prompt.VERSION, draft_prompt.REPAIR_VERSION)


@dg.asset(
    partitions_def=batches,
    code_version=CODE_VERSION,
    group_name="agents",
    kinds={"openai", "sqlite"},
    deps=["reply_draft"],
    check_specs=check_specs(
        "review",
        suite=(SUITE_CHECK, "Great Expectations suite: every reviewer answer is usable"),
        rate=(
            RATE_CHECK,
            "Share of drafts the reviewer did not pass is at most quality.max_failure_rate",
        ),
    ),
)
def review(
    context: dg.AssetExecutionContext,
    settings: SettingsResource,
    store: StoreResource,
    llm: LLMResource,
    memory: MemoryResource,
) -> dg.MaterializeResult:
    """Pass, revise (repair with feedback, then review again) or hand to the owner."""
    config, st, batch = settings.config(), store.get(), context.partition_key
    mine = [i for i in st.items(batch=batch) if i["route"] == "reply_draft"]
    cases = []
    for item in (i for i in mine if i["state"] == "drafted"):
        triage = valid_output(st, item["id"], "triage")
        draft_row = st.get_output(item["id"], "reply_draft")
        if triage is not None and draft_row is not None and draft_row["valid"]:
            body = draft_row["output"]["body"]
            cases.append(Case(item, triage, draft_row, body))

    client = llm.client(st, run_id=context.run.run_id, asset="review")
    mem = memory.get(st)
    known = contexts_for(st, mem, [c.item for c in cases], "review", settings, context)
    for case in cases:
        case.known = known[case.item["id"]].render()
        case.known_ids = known[case.item["id"]].refs
        drafted = recorded_context(st, mem, case.item["id"], "reply_draft")
        case.drafted_with = drafted.render() if drafted else NOTHING_ON_RECORD
    to_review, to_repair = list(cases), list[Case]()
    suite_outcomes: list[SuiteOutcome] = []
    while to_review or to_repair:
        to_repair += review_round(client, to_review, config, st, suite_outcomes, context)
        to_review = repair_round(client, to_repair, config, st, context)
        to_repair = [c for c in cases if c.open and c.feedback and c not in to_review]

    on_budget = settings.policy().budgets.on_exhausted
    failures: Counter[str] = Counter()
    passed: list[tuple[dict[str, Any], dict[str, Any]]] = []
    offered = scheduling.offered_slots(st)  # grows as this run proposes slots
    for case in cases:
        if case.outcome == "pass" and case.error is None:
            _with_invite(case, config, offered)
        _keep(st, case, batch, context.run.run_id)
        if case.error is not None:
            failures[case.error.error_code or "error"] += 1
            rest_after_failure(
                st,
                case.item["id"],
                case.error,
                actor="review",
                expect=("drafted",),
                on_budget=on_budget,
            )
        elif case.outcome == "pass":
            st.transition(case.item["id"], "reviewed", actor="review", expect=("drafted",))
            passed.append((case.item, {**_sendable(case), "invite": case.invite}))
        else:
            if not (case.outcome is not None):  # an invariant, kept under python -O
                raise RuntimeError("invariant broken: case.outcome is not None")
            failures[case.outcome] += 1
            reasons = ", ".join((case.review or {}).get("reasons") or []) or case.outcome
            st.transition(
                case.item["id"],
                "awaiting_human",
                actor="review",
                reason_code=case.outcome,
                reason=f"reviewer: {reasons}",
                expect=("drafted",),
            )
    # A run that died between review and the gate left reviewed items: gate them now.
    for item in (i for i in mine if i["state"] == "reviewed"):
        row = final_draft(st, item["id"])
        if row is not None and row["output"] is not None:
            passed.append((item, row["output"]))

    rate = hold_if_blocked(
        st,
        mine,
        "review",
        batch=batch,
        stage="reviewed",
        actor="review",
        limit=config.quality.max_failure_rate,
    )
    if not rate.blocked:
        gate(st, settings.policy(), passed, config.identity)

    results = [r for c in cases for r in c.results]
    suite = merged(suite_outcomes)
    checks = [
        suite_check(SUITE_CHECK, suite),
        rate_check(
            RATE_CHECK,
            rate,
            revisions=sum(c.revisions for c in cases),
            outcomes=dg.MetadataValue.json(dict(failures)),
        ),
    ]
    metadata = batch_metadata(
        results,
        rows=len(cases),
        prompt_version=prompt.VERSION,
        model=client.endpoint.model,
        failures=failures,
        item_ids=[c.item["id"] for c in cases],
    )
    metadata["repair_prompt_version"] = draft_prompt.REPAIR_VERSION
    metadata.update(memory_metadata(known))
    return dg.MaterializeResult(metadata=metadata, check_results=checks)


def _sendable(case: Case) -> dict[str, Any]:
    draft = case.draft_row["output"]
    return {"to": draft["to"], "subject": draft["subject"], "body": case.body}


def _with_invite(case: Case, config: Any, offered: set[str]) -> None:
    """A mail that asks to meet: the reply proposes the owner's first free slots (fixed now,
    so the owner approves exactly the times that go out)."""
    if case.review is None or not scheduling.asks_to_meet(case.item):
        return
    slots = scheduling.propose_slots(config.availability, dt.datetime.now(dt.UTC), offered)
    offered.update(s.isoformat() for s in slots)
    if slots:
        case.invite = {
            "slots": [s.isoformat() for s in slots],
            "minutes": config.availability.slot_minutes,
        }


def _keep(st: Store, case: Case, batch: str, run_id: str) -> None:
    """One review row per item: the verdict and the final draft, with every call's cost."""
    if case.review is None and case.error is not None:
        return  # no answer at all is neither judged nor kept
    last = case.results[-1] if case.results else None
    output = None
    if case.review is not None:
        output = {
            **case.review,
            **_sendable(case),
            "invite": case.invite,
            "revisions": case.revisions,
            "draft_hash": case.draft_row["output_hash"],
        }
    failure = None if case.outcome == "pass" and case.error is None else case.outcome
    if case.error is not None:
        failure = case.error.error_code
    row = output_row(
        asset="review",
        batch=batch,
        run_id=run_id,
        prompt_version=prompt.VERSION,
        result=last,
        output=output,
        input_hash=case.draft_row["output_hash"],
        failure=failure,
        memory_ids=case.known_ids,
    )
    row.update(
        tokens_in=sum(r.tokens_in for r in case.results),
        tokens_out=sum(r.tokens_out for r in case.results),
        cost_usd=sum(r.cost_usd for r in case.results),
        cached=all(r.cached for r in case.results),
    )
    st.save_output(row)
