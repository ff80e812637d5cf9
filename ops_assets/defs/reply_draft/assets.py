"""The reply_draft asset: a checked reply for every support and billing item of the batch."""

from collections import Counter
from typing import Any

import dagster as dg
from pydantic import BaseModel

from ops_assets.agent_run import (
    NOT_FOR_AGENTS,
    batch_metadata,
    messages_hash,
    output_row,
    propose_correction_if_changed,
    rest_after_failure,
)
from ops_assets.config import Config
from ops_assets.defs.reply_draft import prompt
from ops_assets.defs.reply_draft.compose import reply_recipient, reply_subject, strip_sign_off
from ops_assets.defs.reply_draft.contract import ReplyDraft
from ops_assets.defs.reply_draft.validation import draft_problems
from ops_assets.partitions import batches
from resources.llm.client import CallRequest
from resources.llm.resource import LLMResource
from resources.settings import SettingsResource
from resources.store import Store
from resources.store.resource import StoreResource

CHECK = "draft_failure_rate_within_limit"
# The skeleton's approval policy: a draft that passed every check goes out. The governance
# issue replaces this with the operator's policy file.
POLICY = "skeleton-auto-v0"


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
    passed: list[str] = []
    attempted = 0
    for item, request, result in zip(items, requests, results, strict=True):
        pending = item["state"] == "triaged"
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
        propose_correction_if_changed(
            st, item, "reply_draft", row["output_hash"], actor="reply_draft"
        )
        st.save_output(row)
        if failure:
            failures[failure] += 1
        if not pending:
            continue
        if result.error_code:
            rest_after_failure(st, item["id"], result, actor="reply_draft", expect=("triaged",))
            continue
        st.transition(item["id"], "drafted", actor="reply_draft", expect=("triaged",))
        if failure:
            st.transition(
                item["id"],
                "awaiting_human",
                actor="draft_checks",
                reason_code=failure,
                reason=f"draft failed check: {failure}",
                expect=("drafted",),
            )
        else:
            st.transition(item["id"], "reviewed", actor="draft_checks", expect=("drafted",))
            passed.append(item["id"])

    pending_failures = attempted - len(passed)
    rate = pending_failures / attempted if attempted else 0.0
    blocked = rate > config.quality.max_failure_rate
    _gate(st, passed, blocked=blocked, rate=rate)

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


def _gate(st: Store, passed: list[str], *, blocked: bool, rate: float) -> None:
    """The approval gate. A blocked batch stops the line: nothing of it goes out unseen."""
    for item_id in passed:
        if blocked:
            st.transition(
                item_id,
                "awaiting_human",
                actor="draft_checks",
                reason_code="batch_blocked",
                reason=f"batch failure rate {rate:.0%} is above the limit",
                expect=("reviewed",),
            )
        else:
            st.record_approval(item_id, "approved", actor="policy", policy=POLICY)
            st.transition(
                item_id, "approved", actor="policy", expect=("reviewed",), detail={"policy": POLICY}
            )
