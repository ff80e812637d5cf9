"""The proposal_verdict asset: each new version judged against the plan's criteria (model)
and by code (amounts, total, dates, commitments), revised a bounded number of times."""

import datetime as dt
from collections import Counter
from typing import Any

import dagster as dg

from ops_assets.agents.agent_run import batch_metadata, keep_answer
from ops_assets.agents.prompting import combined_version
from ops_assets.defs.proposals.calls import BATCH, agent_client
from ops_assets.defs.proposals.catalogue import Catalogue, catalogue_path, load_catalogue
from ops_assets.defs.proposals.executor import prompt as executor_prompt
from ops_assets.defs.proposals.executor.work import Job, draft, first_job, revise_job
from ops_assets.defs.proposals.leads import (
    advance,
    defer_unanswered,
    in_state,
    is_lead,
    retry_later,
    to_owner,
)
from ops_assets.defs.proposals.verifier import expectations, prompt
from ops_assets.defs.proposals.verifier.checks import code_rows, criterion_rows
from ops_assets.defs.proposals.verifier.contract import CriterionVerdicts
from ops_assets.defs.proposals.workflow import GROUP, PROPOSALS
from ops_assets.quality.suites import validate
from resources.llm.client import CallRequest, CallResult
from resources.llm.resource import LLMResource
from resources.settings import SettingsResource
from resources.settings.config import Config
from resources.store import Store
from resources.store import proposals as rows
from resources.store.resource import StoreResource

AGENT = "proposal_verdict"
VERSION = combined_version(AGENT, prompt.VERSION, executor_prompt.VERSION)


@dg.asset(
    group_name=GROUP,
    kinds={"openai", "sqlite"},
    code_version=VERSION,
    deps=["proposal_draft", "proposal_answer"],
)
def proposal_verdict(
    context: dg.AssetExecutionContext,
    settings: SettingsResource,
    store: StoreResource,
    llm: LLMResource,
) -> dg.MaterializeResult:
    """Per plan criterion pass/fail with evidence, and code's checks, as rows per version; a
        failing version is revised (at most workflow.max_revisions times), then goes to the owner.
    Takes `drafted` items whose newest version is `drafted` (a new lead's or a revision asked for
    by the client); a verified one moves the item to `reviewed`."""
    config, st = settings.config(), store.get()
    catalogue = load_catalogue(catalogue_path(settings))
    outcome: Counter[str] = Counter()
    results: list[CallResult] = []
    # A run that died between "revise" and the new draft finishes that draft first (the call
    # is answered from the ledger).
    waiting = [
        v for v in rows.latest_by_status(st, ["revise"]) if is_lead(st, v["item_id"], "drafted")
    ]
    _, drafted = draft(
        context, st, llm, config, catalogue, [_revision(st, v, config, catalogue) for v in waiting]
    )
    results += drafted
    for _ in range(PROPOSALS.max_revisions + 1):
        pending = [
            v
            for v in rows.latest_by_status(st, ["drafted"])
            if is_lead(st, v["item_id"], "drafted")
        ]
        if not pending:
            break
        judged, calls = _judge(context, st, llm, catalogue, pending)
        results += calls
        revisions = []
        for version, failing in judged:
            item_id, number = version["item_id"], version["version"]
            if not failing:
                rows.set_status(st, item_id, number, "verified", actor=AGENT, expect=("drafted",))
                advance(st, item_id, "reviewed", actor=AGENT, expect=("drafted",))
                outcome["verified"] += 1
                continue
            feedback = "\n".join(f"- {r['name']}: {r['evidence']}" for r in failing)
            if _in_attempt(st, item_id, number) <= PROPOSALS.max_revisions:
                if rows.set_status(
                    st,
                    item_id,
                    number,
                    "revise",
                    actor=AGENT,
                    expect=("drafted",),
                    reason_code=failing[0]["name"],
                    feedback=feedback,
                ):
                    revised = rows.get_version(st, item_id, number) or version
                    revisions.append(_revision(st, revised, config, catalogue))
                    outcome["revised"] += 1
                continue
            if rows.set_status(
                st,
                item_id,
                number,
                "failed",
                actor=AGENT,
                expect=("drafted",),
                reason_code=failing[0]["name"],
                feedback=feedback,
            ):
                to_owner(
                    st,
                    item_id,
                    actor=AGENT,
                    code=f"proposal_{failing[0]['name']}"[:60],
                    reason=f"proposal v{number} failed verification: {failing[0]['evidence']}",
                )
                outcome["to_owner"] += 1
        _, drafted = draft(context, st, llm, config, catalogue, revisions)
        results += drafted
    # A run that died between the verdict and the item's move finishes that move.
    for item in in_state(st, "drafted"):
        latest = rows.latest(st, item["id"])
        if latest is not None and latest["status"] == "verified":
            advance(st, item["id"], "reviewed", actor=AGENT, expect=("drafted",))
    return dg.MaterializeResult(
        metadata={
            **batch_metadata(
                results,
                rows=sum(outcome.values()),
                prompt_version=VERSION,
                model=config.llm.model or "",
                failures=Counter({k: v for k, v in outcome.items() if k != "verified"}),
                item_ids=[],
            ),
            "outcome": dg.MetadataValue.json(dict(outcome)),
        }
    )


def _in_attempt(st: Store, item_id: str, number: int) -> int:
    """Which draft of its attempt this version is (1 = the first): an owner's retry after a
    failed version starts a new attempt with the full revision budget."""
    failed = [
        v["version"]
        for v in rows.all_versions(st, item_id)
        if v["status"] == "failed" and v["version"] < number
    ]
    return number - max(failed, default=0)


def _revision(st: Store, version: dict[str, Any], config: Config, catalogue: Catalogue) -> Job:
    item = st.get_item(version["item_id"]) or {}
    kept = st.get_output(version["item_id"], "proposal_draft")
    previous = (kept or {}).get("output") or {}
    feedback = version["feedback"] or version["reason_code"] or "revise"
    return revise_job(first_job(st, item, config, catalogue), previous, feedback)


def _judge(
    context: dg.AssetExecutionContext,
    st: Store,
    llm: LLMResource,
    catalogue: Catalogue,
    versions: list[dict[str, Any]],
) -> tuple[list[tuple[dict[str, Any], list[dict[str, Any]]]], list[CallResult]]:
    """Each version with its failing rows (empty: it passed); all rows are saved."""
    client = agent_client(llm, st, context.run.run_id, AGENT)
    plans = {v["item_id"]: rows.plan(st, v["item_id"]) for v in versions}
    requests = [
        CallRequest(
            AGENT,
            v["item_id"],
            prompt.messages(plans[v["item_id"]], v["markdown"]),
            CriterionVerdicts,
            prompt.VERSION,
        )
        for v in versions
    ]
    results = client.run(requests)
    defer_unanswered(st, results, actor=AGENT)
    answered = [
        (v, q, r) for v, q, r in zip(versions, requests, results, strict=True) if not retry_later(r)
    ]
    suite = validate(
        expectations.SUITE,
        [
            expectations.row(r.item_id, r.output, len(plans[r.item_id]))
            for _, _, r in answered
            if isinstance(r.output, CriterionVerdicts)
        ],
        expectations.rules(),
    )
    today = dt.datetime.now(dt.UTC).date()
    judged = []
    for version, request, result in answered:
        item = st.get_item(version["item_id"]) or {}
        verdicts = result.output
        failure = result.error_code or suite.first_reason(version["item_id"])
        output = verdicts.model_dump(mode="json") if verdicts is not None else None
        keep_answer(
            st, item, request, result, output, failure, batch=BATCH, run_id=context.run.run_id
        )
        if not isinstance(verdicts, CriterionVerdicts):
            code = result.error_code or "no_output"
            to_owner(st, item["id"], actor=AGENT, code=code, reason=f"{AGENT} failed: {code}")
            continue
        by_step = {v.step: v for v in verdicts.verdicts}
        found = criterion_rows(plans[version["item_id"]], by_step)
        found += code_rows(version, catalogue, today)
        if failure:
            found.append({"kind": "check", "name": failure, "passed": False, "evidence": failure})
        rows.save_checks(st, version["item_id"], version["version"], found)
        judged.append((version, [r for r in found if not r["passed"]]))
    return judged, results
