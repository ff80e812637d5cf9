"""The triage asset: one row per item of an intake batch, rules first, model second."""

from collections import Counter
from typing import Any

import dagster as dg

from ops_assets.agents.agent_run import (
    NOT_FOR_AGENTS,
    RETRYABLE,
    batch_metadata,
    keep_answer,
    release_retryable,
    rest_after_failure,
)
from ops_assets.defs.triage import expectations, prompt
from ops_assets.defs.triage.contract import TriageResult
from ops_assets.defs.triage.rules import no_action_rule, urgency
from ops_assets.governance.holds import sender_flags
from ops_assets.governance.injection import injection_flags
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
from resources.settings import SettingsResource
from resources.settings.policy import Policy
from resources.store import Store
from resources.store.resource import StoreResource

AGENTS = ("reply_draft",)
SUITE_CHECK = "triage_suite"
RATE_CHECK = "triage_failure_rate_within_limit"


@dg.asset(
    partitions_def=batches,
    code_version=prompt.VERSION,
    group_name="agents",
    kinds={"openai", "sqlite"},
    check_specs=check_specs(
        "triage",
        suite=(SUITE_CHECK, "Great Expectations suite: every triage row may route its item"),
        rate=(RATE_CHECK, "Share of failing triage rows is at most quality.max_failure_rate"),
    ),
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
    # Follow-ups are triaged by code when they are made (orchestration/follow_ups.py):
    # released ones (after a deferral, `resume` or `retry`) go straight back to the drafter.
    for item in [i for i in items if i["kind"] == "follow_up" and i["state"] == "received"]:
        st.transition(item["id"], "triaged", actor="follow_ups", expect=("received",))
    items = [i for i in items if i["kind"] != "follow_up"]
    _flag_risky_requests(st, items, settings.policy(), config.identity.owner_addresses)
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
    outputs: dict[str, dict[str, Any]] = {}
    for item, result in zip(to_model, results, strict=True):
        if result.output is not None:
            outputs[item["id"]] = {**result.output.model_dump(), "urgency": urgency(item)}
    suite = validate(
        expectations.SUITE,
        [expectations.row(i, o) for i, o in outputs.items()],
        expectations.rules(),
    )
    on_budget = settings.policy().budgets.on_exhausted
    for item, request, result in zip(to_model, requests, results, strict=True):
        received = item["state"] == "received"
        output = outputs.get(item["id"])
        failure = result.error_code or suite.first_reason(item["id"])
        if result.error_code not in RETRYABLE:
            # An answer (valid or not) is kept with its provenance; no answer keeps the old one.
            _reconsider(st, item, output, failure)
            keep_answer(
                st, item, request, result, output, failure, batch=batch, run_id=context.run.run_id
            )
        if failure and not result.error_code:
            failures[failure] += 1
            if received:
                st.transition(
                    item["id"],
                    "awaiting_human",
                    actor="triage_checks",
                    reason_code=failure,
                    reason=f"triage failed check: {failure}",
                    expect=("received",),
                )
        elif result.error_code:
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
            if not (output is not None):  # an invariant, kept under python -O
                raise RuntimeError("invariant broken: output is not None")
            _route(st, item["id"], output, config.route_for(output["category"]))

    # A broken prompt or model: nothing of this batch goes on to the drafter.
    rate = hold_if_blocked(
        st,
        to_model,
        "triage",
        batch=batch,
        stage="triaged",
        actor="triage_checks",
        limit=config.quality.max_failure_rate,
    )
    moved = {i["id"] for i in to_model if i["state"] == "received"}
    return dg.MaterializeResult(
        metadata=batch_metadata(
            results,
            rows=len(items),
            prompt_version=prompt.VERSION,
            model=client.endpoint.model,
            failures=failures,
            item_ids=[i["id"] for i in items],
        ),
        check_results=[suite_check(SUITE_CHECK, suite.only(moved)), rate_check(RATE_CHECK, rate)],
    )


def _reconsider(
    st: Store, item: dict[str, Any], output: dict[str, Any] | None, failure: str | None
) -> None:
    """A re-run's answer for an item already on its way (a run died after routing it): if the
    answer now fails, or sorts it elsewhere, the owner decides instead of the old route."""
    if item["state"] not in ("triaged", "drafted", "reviewed"):
        return
    category = output["category"] if output is not None else None
    if failure or category != item["category"]:
        st.transition(
            item["id"],
            "awaiting_human",
            actor="triage_checks",
            reason_code=failure or "triage_changed",
            reason=f"triage of an item in flight changed: {failure or category}",
            expect=(item["state"],),
        )


# What intake flags on the raw mail (sensors.mail.model.PARSER_FLAGS; a test keeps them equal).
INTAKE_FLAGS = ("hidden_text", "charset_fallback")


def _flag_risky_requests(
    st: Store,
    items: list[dict[str, Any]],
    policy: Policy | None = None,
    owner_addresses: list[str] | None = None,
) -> None:
    """Injection, fraud and sender flags (an unauthenticated claim of a known address, a
    look-alike domain), decided by code before any model reads the message."""
    senders = sender_flags(st, policy or Policy(), items, owner_addresses or [])
    for item in items:
        # Flags intake raised from the raw mail (hidden HTML text, a charset fallback) stay.
        raw = [f for f in item["flags"] or [] if f in INTAKE_FLAGS]
        flags = raw + injection_flags(item["subject"], item["body"], item["sender"])
        flags += senders[item["id"]]
        if flags != (item["flags"] or []):
            st.update_fields(item["id"], flags=flags)
            st.audit(item["id"], "triage_rules", "flagged", {"flags": flags})
            item["flags"] = flags


def _route(st: Store, item_id: str, output: dict[str, Any], route: str) -> bool:
    """Move a triaged item on; True when it goes to an agent."""
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
        return st.transition(item_id, "triaged", actor="triage", expect=("received",), **fields)
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
    return False
