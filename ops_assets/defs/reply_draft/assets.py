"""The reply_draft asset: a checked reply for every support and billing item of the batch."""

import dataclasses
from collections import Counter
from typing import Any

import dagster as dg
from pydantic import BaseModel

from ops_assets.agent_run import (
    NOT_FOR_AGENTS,
    RETRYABLE,
    batch_metadata,
    keep_output,
    messages_hash,
    output_row,
    rest_after_failure,
)
from ops_assets.config import Config
from ops_assets.defs.reply_draft import prompt
from ops_assets.defs.reply_draft.compose import reply_recipient, reply_subject, strip_sign_off
from ops_assets.defs.reply_draft.contract import ReplyDraft
from ops_assets.defs.reply_draft.validation import draft_problems
from ops_assets.governance.facts import facts_for
from ops_assets.governance.policy import Policy, decide
from ops_assets.partitions import batches
from resources.llm.client import CallRequest
from resources.llm.resource import LLMResource
from resources.settings import SettingsResource
from resources.store import Store
from resources.store.resource import StoreResource

CHECK = "draft_failure_rate_within_limit"
PENDING = ("triaged", "drafted", "reviewed")
SEND_REPLY = "send_reply"


@dg.asset(
    partitions_def=batches,
    code_version=prompt.VERSION,
    group_name="agents",
    kinds={"openai", "sqlite"},
    deps=["triage"],
    check_specs=[
        dg.AssetCheckSpec(
            CHECK,
            asset="reply_draft",
            blocking=True,
            description="Share of failing drafts is at most quality.max_failure_rate",
        )
    ],
)
def reply_draft(
    context: dg.AssetExecutionContext,
    settings: SettingsResource,
    store: StoreResource,
    llm: LLMResource,
) -> dg.MaterializeResult:
    """A reply in the owner's voice for each item routed to reply_draft, validated row by row."""
    config, st, batch = settings.config(), store.get(), context.partition_key
    items = [
        i
        for i in st.items(batch=batch)
        if i["state"] not in NOT_FOR_AGENTS
        and i["route"] == "reply_draft"
        and i["state"] != "received"
    ]
    triages: dict[str, dict[str, Any]] = {}
    for item in items:
        triage_row = st.get_output(item["id"], "triage")
        if triage_row is not None and triage_row["valid"]:
            triages[item["id"]] = triage_row["output"]
    items = [i for i in items if i["id"] in triages]

    client = llm.client(st, run_id=context.run.run_id, asset="reply_draft")
    requests = [
        CallRequest(
            "reply_draft",
            i["id"],
            prompt.messages(i, triages[i["id"]], config),
            ReplyDraft,
            prompt.VERSION,
        )
        for i in items
    ]
    results = client.run(requests)

    failures: Counter[str] = Counter()
    passed: list[tuple[dict[str, Any], dict[str, Any]]] = []
    attempted = 0
    on_budget = settings.policy().budgets.on_exhausted
    for item, request, result in zip(items, requests, results, strict=True):
        # triaged: new work; drafted/reviewed: a run died half-way, finish what it started.
        pending = item["state"] in PENDING
        if result.error_code not in RETRYABLE:
            # An answer (valid or not) is judged and kept with its provenance. No answer at
            # all (model down, budget, kill switch) is neither judged nor kept.
            attempted += pending
            output, failure = _draft_output(item, result.output, config)
            failure = result.error_code or failure
            row = output_row(
                asset="reply_draft",
                batch=batch,
                run_id=context.run.run_id,
                prompt_version=prompt.VERSION,
                result=result,
                output=output,
                input_hash=messages_hash(request.messages),
                failure=failure,
            )
            keep_output(st, item, row)
            if failure:
                failures[failure] += 1
        if not pending:
            continue
        if result.error_code:
            rest_after_failure(
                st, item["id"], result, actor="reply_draft", expect=PENDING, on_budget=on_budget
            )
            continue
        state = item["state"]
        if state == "triaged":
            st.transition(item["id"], "drafted", actor="reply_draft", expect=("triaged",))
            state = "drafted"
        if failure:
            st.transition(
                item["id"],
                "awaiting_human",
                actor="draft_checks",
                reason_code=failure,
                reason=f"draft failed check: {failure}",
                expect=("drafted", "reviewed"),
            )
            continue
        if state == "drafted":
            st.transition(item["id"], "reviewed", actor="draft_checks", expect=("drafted",))
        assert output is not None
        passed.append((item, output))

    pending_failures = attempted - len(passed)
    rate = pending_failures / attempted if attempted else 0.0
    blocked = rate > config.quality.max_failure_rate
    _gate(st, settings.policy(), passed, blocked=blocked, rate=rate)

    metadata = batch_metadata(
        results,
        rows=len(items),
        prompt_version=prompt.VERSION,
        model=client.endpoint.model,
        failures=failures,
        item_ids=[i["id"] for i in items],
    )
    check = dg.AssetCheckResult(
        check_name=CHECK,
        passed=not blocked,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "attempted": attempted,
            "failed": pending_failures,
            "failure_rate": dg.MetadataValue.float(round(rate, 4)),
            "max_failure_rate": dg.MetadataValue.float(config.quality.max_failure_rate),
            "failing_reasons": dg.MetadataValue.json(dict(failures)),
        },
    )
    return dg.MaterializeResult(metadata=metadata, check_results=[check])


def _draft_output(
    item: dict[str, Any], draft: BaseModel | None, config: Config
) -> tuple[dict[str, Any] | None, str | None]:
    if not isinstance(draft, ReplyDraft):
        return None, None
    body = strip_sign_off(draft.body, config.identity)
    problems = draft_problems(body, config.quality)
    output = {
        "body": body,
        "to": reply_recipient(item),
        "subject": reply_subject(item.get("subject")),
        "problems": problems,
    }
    return output, problems[0] if problems else None


def _gate(
    st: Store,
    policy: Policy,
    passed: list[tuple[dict[str, Any], dict[str, Any]]],
    *,
    blocked: bool,
    rate: float,
) -> None:
    """The approval gate. A blocked batch stops the line: nothing of it goes out unseen.
    Otherwise the operator's policy decides, from facts code computed, per item."""
    for item, output in passed:
        if blocked:
            st.transition(
                item["id"],
                "awaiting_human",
                actor="draft_checks",
                reason_code="batch_blocked",
                reason=f"batch failure rate {rate:.0%} is above the limit",
                expect=("reviewed",),
            )
            continue
        current = st.get_item(item["id"]) or item
        facts = facts_for(st, policy, current, output["to"], output["body"])
        decision = decide(policy, SEND_REPLY, facts)
        detail = {
            "policy": decision.policy_version,
            "rule": decision.rule,
            "facts": dataclasses.asdict(facts),
        }
        if decision.verdict == "auto":
            st.record_approval(
                item["id"],
                "approved",
                actor="policy",
                policy=decision.policy_version,
                note=decision.rule,
            )
            st.transition(
                item["id"], "approved", actor="policy", expect=("reviewed",), detail=detail
            )
        elif decision.verdict == "needs_approval":
            st.transition(
                item["id"],
                "awaiting_approval",
                actor="policy",
                reason_code=decision.rule,
                reason=f"policy rule {decision.rule} asks for the owner's approval",
                expect=("reviewed",),
                detail=detail,
            )
        else:
            st.record_approval(
                item["id"],
                "rejected",
                actor="policy",
                policy=decision.policy_version,
                note=decision.rule,
            )
            st.transition(
                item["id"],
                "rejected",
                actor="policy",
                reason_code=decision.rule,
                reason=f"policy rule {decision.rule} forbids this reply",
                expect=("reviewed",),
                detail=detail,
            )
