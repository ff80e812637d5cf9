"""The reply_draft asset: a draft for every support and billing item of the batch, checked row
by row by its Great Expectations suite before the reviewer sees it."""

from collections import Counter
from typing import Any

import dagster as dg
from pydantic import BaseModel

from ops_assets.agents.agent_run import (
    NOT_FOR_AGENTS,
    RETRYABLE,
    batch_metadata,
    keep_answer,
    rest_after_failure,
    valid_output,
)
from ops_assets.agents.context import contexts_for, examples_for_batch, memory_metadata
from ops_assets.defs.reply_draft import expectations, prompt
from ops_assets.defs.reply_draft.compose import reply_recipient, reply_subject, strip_sign_off
from ops_assets.defs.reply_draft.contract import ReplyDraft
from ops_assets.orchestration.partitions import batches
from ops_assets.quality.batch_checks import (
    check_specs,
    hold_if_blocked,
    rate_check,
    suite_check,
)
from ops_assets.quality.suites import validate
from resources.llm.client import CallRequest
from resources.llm.resource import LLMResource
from resources.memory import MemoryResource
from resources.settings import SettingsResource
from resources.settings.config import Config
from resources.store.resource import StoreResource

SUITE_CHECK = "reply_draft_suite"
RATE_CHECK = "draft_failure_rate_within_limit"
PENDING = ("triaged", "drafted")


@dg.asset(
    partitions_def=batches,
    code_version=prompt.VERSION,
    group_name="agents",
    kinds={"openai", "sqlite"},
    deps=["triage"],
    check_specs=check_specs(
        "reply_draft",
        suite=(SUITE_CHECK, "Great Expectations suite: every draft passes the row rules"),
        rate=(RATE_CHECK, "Share of failing drafts is at most quality.max_failure_rate"),
    ),
)
def reply_draft(
    context: dg.AssetExecutionContext,
    settings: SettingsResource,
    store: StoreResource,
    llm: LLMResource,
    memory: MemoryResource,
) -> dg.MaterializeResult:
    """A reply in the owner's voice for each item routed to reply_draft, validated row by row,
    with what memory holds about the sender (bounded, recorded per item)."""
    config, st, batch = settings.config(), store.get(), context.partition_key
    items = [
        i
        for i in st.items(batch=batch)
        if i["state"] not in NOT_FOR_AGENTS
        and i["route"] == "reply_draft"
        and i["state"] != "received"
    ]
    triages = {i["id"]: valid_output(st, i["id"], "triage") for i in items}
    items = [i for i in items if triages[i["id"]] is not None]

    client = llm.client(st, run_id=context.run.run_id, asset="reply_draft")
    mem = memory.get(st)
    remembered = contexts_for(st, mem, items, "reply_draft", settings, context)
    # Few-shot: mail like this one with the reply the owner approved, chosen by code, recorded.
    shots = examples_for_batch(
        st, mem, items, "reply_draft", config.memory.budgets, context.run.run_id
    )
    requests = [
        CallRequest(
            "reply_draft",
            i["id"],
            prompt.messages(
                i,
                triages[i["id"]] or {},
                config,
                memory=remembered[i["id"]].render(),
                examples=shots[i["id"]].render() if shots[i["id"]].rows else "",
            ),
            ReplyDraft,
            prompt.VERSION,
        )
        for i in items
    ]
    results = client.run(requests)
    answered = [
        (item, request, result)
        for item, request, result in zip(items, requests, results, strict=True)
        if result.error_code not in RETRYABLE
    ]
    outputs = {
        item["id"]: _draft_output(item, result.output, config) for item, _, result in answered
    }
    suite = validate(
        expectations.SUITE,
        [expectations.row(i, o["body"]) for i, o in outputs.items() if o is not None],
        expectations.rules(config.quality),
    )

    failures: Counter[str] = Counter()
    for item, request, result in answered:
        # An answer (valid or not) is judged and kept with its provenance. No answer at all
        # (model down, budget, kill switch) is neither judged nor kept.
        pending = item["state"] in PENDING
        output = outputs[item["id"]]
        failure = result.error_code or suite.first_reason(item["id"])
        keep_answer(
            st,
            item,
            request,
            result,
            output,
            failure,
            batch=batch,
            run_id=context.run.run_id,
            memory_ids=remembered[item["id"]].refs + shots[item["id"]].refs,
        )
        if failure:
            failures[failure] += 1
        if not pending:
            continue
        if failure and output is None:
            rest_after_failure(st, item["id"], result, actor="reply_draft", expect=PENDING)
            continue
        if item["state"] == "triaged":
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
    on_budget = settings.policy().budgets.on_exhausted
    for item, result in zip(items, results, strict=True):
        if result.error_code in RETRYABLE and item["state"] in PENDING:
            rest_after_failure(
                st, item["id"], result, actor="reply_draft", expect=PENDING, on_budget=on_budget
            )

    rate = hold_if_blocked(
        st,
        items,
        "reply_draft",
        batch=batch,
        stage="drafted",
        actor="draft_checks",
        limit=config.quality.max_failure_rate,
    )
    moved = {i["id"] for i, _, _ in answered if i["state"] in PENDING}

    metadata = batch_metadata(
        results,
        rows=len(items),
        prompt_version=prompt.VERSION,
        model=client.endpoint.model,
        failures=failures,
        item_ids=[i["id"] for i in items],
    )
    metadata.update(memory_metadata(remembered))
    checks = [
        suite_check(SUITE_CHECK, suite.only(moved)),
        rate_check(RATE_CHECK, rate, failing_reasons=dg.MetadataValue.json(dict(failures))),
    ]
    return dg.MaterializeResult(metadata=metadata, check_results=checks)


def _draft_output(
    item: dict[str, Any], draft: BaseModel | None, config: Config
) -> dict[str, Any] | None:
    if not isinstance(draft, ReplyDraft):
        return None
    return {
        "body": strip_sign_off(draft.body, config.identity),
        "to": reply_recipient(item),
        "subject": reply_subject(item.get("subject")),
    }
