"""The triage asset: one row per item of an intake batch, rules first, model second."""

from collections import Counter
from typing import Any

import dagster as dg

from ops_assets.agent_run import (
    NOT_FOR_AGENTS,
    RETRYABLE,
    batch_metadata,
    keep_output,
    messages_hash,
    output_row,
    release_retryable,
    rest_after_failure,
)
from ops_assets.defs.triage import prompt
from ops_assets.defs.triage.contract import TriageResult
from ops_assets.defs.triage.rules import no_action_rule, urgency
from ops_assets.governance.injection import injection_flags
from ops_assets.partitions import batches
from resources.llm.client import CallRequest
from resources.llm.resource import LLMResource
from resources.settings import SettingsResource
from resources.store import Store
from resources.store.resource import StoreResource

AGENTS = ("reply_draft",)


@dg.asset(
    partitions_def=batches,
    code_version=prompt.VERSION,
    group_name="agents",
    kinds={"openai", "sqlite"},
)
def triage(
    context: dg.AssetExecutionContext,
    settings: SettingsResource,
    store: StoreResource,
    llm: LLMResource,
) -> dg.MaterializeResult:
    """Category, summary, fields and route for every item of the batch."""
    config, st, batch = settings.config(), store.get(), context.partition_key
    items = [i for i in st.items(batch=batch) if i["state"] not in NOT_FOR_AGENTS]
    release_retryable(st, items, actor="triage")
    _flag_risky_requests(st, items)
    failures: Counter[str] = Counter()

    to_model = []
    for item in items:
        rule = no_action_rule(item, config.identity.owner_addresses)
        if rule is None:
            to_model.append(item)
        elif item["state"] == "received":
            st.transition(
                item["id"],
                "no_action",
                actor="triage_rules",
                reason_code=rule[0],
                reason=rule[1],
                expect=("received",),
                category="spam" if rule[0] == "spam_rule" else None,
            )

    client = llm.client(st, run_id=context.run.run_id, asset="triage")
    requests = [
        CallRequest("triage", i["id"], prompt.messages(i, config), TriageResult, prompt.VERSION)
        for i in to_model
    ]
    results = client.run(requests)
    on_budget = settings.policy().budgets.on_exhausted
    for item, request, result in zip(to_model, requests, results, strict=True):
        received = item["state"] == "received"
        output = None
        if result.error_code not in RETRYABLE:
            # An answer (valid or not) is kept with its provenance; no answer keeps the old one.
            output = result.output.model_dump() if result.output else None
            if output is not None:
                output["urgency"] = urgency(item)
            row = output_row(
                asset="triage",
                batch=batch,
                run_id=context.run.run_id,
                prompt_version=prompt.VERSION,
                result=result,
                output=output,
                input_hash=messages_hash(request.messages),
                failure=result.error_code,
            )
            keep_output(st, item, row)
        if result.error_code:
            failures[result.error_code] += 1
            if received:
                rest_after_failure(
                    st,
                    item["id"],
                    result,
                    actor="triage",
                    expect=("received",),
                    on_budget=on_budget,
                )
        elif received:
            assert output is not None
            _route(st, item["id"], output, config.route_for(output["category"]))

    return dg.MaterializeResult(
        metadata=batch_metadata(
            results,
            rows=len(items),
            prompt_version=prompt.VERSION,
            model=client.endpoint.model,
            failures=failures,
            item_ids=[i["id"] for i in items],
        )
    )


def _flag_risky_requests(st: Store, items: list[dict[str, Any]]) -> None:
    """Injection and fraud flags, decided by code before any model reads the message."""
    for item in items:
        flags = injection_flags(item["subject"], item["body"], item["sender"])
        if flags != (item["flags"] or []):
            st.update_fields(item["id"], flags=flags)
            st.audit(item["id"], "triage_rules", "flagged", {"flags": flags})
            item["flags"] = flags


def _route(st: Store, item_id: str, output: dict[str, Any], route: str) -> None:
    fields = {"category": output["category"], "urgency": output["urgency"], "route": route}
    if output["category"] == "spam" or route == "no_action":
        st.transition(
            item_id,
            "no_action",
            actor="triage",
            reason_code="spam" if output["category"] == "spam" else "routed_no_action",
            reason=f"category {output['category']} needs no answer",
            expect=("received",),
            **fields,
        )
    elif route in AGENTS:
        st.transition(item_id, "triaged", actor="triage", expect=("received",), **fields)
    else:
        st.transition(
            item_id,
            "awaiting_human",
            actor="triage",
            reason_code="no_agent_for_category",
            reason=f"no agent answers {output['category']} mail yet",
            expect=("received",),
            **fields,
        )
