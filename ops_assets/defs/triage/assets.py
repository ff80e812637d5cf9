"""The triage asset: one row per item of an intake batch, decided by the cascade (rules,
classifier, model, owner), each decision with its stage and confidence."""

from collections import Counter
from typing import Any

import dagster as dg

from ops_assets.agents.agent_run import (
    NOT_FOR_AGENTS,
    RETRYABLE,
    batch_metadata,
    keep_answer,
    keep_output,
    release_retryable,
    rest_after_failure,
)
from ops_assets.agents.context import examples_for_batch
from ops_assets.defs.triage import cascade, expectations, prompt, stages
from ops_assets.defs.triage.contract import TriageResult
from ops_assets.defs.triage.rules import urgency
from ops_assets.governance.holds import sender_flags
from ops_assets.governance.injection import injection_flags
from ops_assets.orchestration.partitions import batches
from ops_assets.orchestration.workflows import check_routing, workflows
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
from resources.settings.policy import Policy
from resources.store import Store
from resources.store.mailbox_links import answered_delivery
from resources.store.resource import StoreResource

SUITE_CHECK = "triage_suite"
RATE_CHECK = "triage_failure_rate_within_limit"


@dg.asset(
    partitions_def=batches,
    code_version=stages.VERSION,
    group_name="agents",
    kinds={"openai", "sqlite", "scikitlearn"},
    # A retrained classifier is new upstream data: the UI marks every triage partition stale.
    deps=[dg.AssetKey("triage_classifier")],
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
    memory: MemoryResource,
) -> dg.MaterializeResult:
    """Category, summary, fields and route for every item of the batch: rules, then the
    classifier when it is sure, then the model, then the owner (cascade.py)."""
    config, st, batch = settings.config(), store.get(), context.partition_key
    check_routing(config)  # a route naming no workflow stops here, before any item moves
    items = [i for i in st.items(batch=batch) if i["state"] not in NOT_FOR_AGENTS]
    release_retryable(st, items, actor="triage")
    # Follow-ups are triaged by code when they are made (orchestration/follow_ups.py):
    # released ones (after a deferral, `resume` or `retry`) go straight back to the drafter.
    for item in [i for i in items if i["kind"] == "follow_up" and i["state"] == "received"]:
        st.transition(item["id"], "triaged", actor="follow_ups", expect=("received",))
    items = [i for i in items if i["kind"] != "follow_up"]
    _flag_risky_requests(st, items, settings.policy(), config.identity.owner_addresses)
    failures: Counter[str] = Counter()
    owners = config.identity.owner_addresses

    clf = stages.ClassifierStage.load(settings.home_dir().root, memory.get(st))
    answers = clf.classify(items)
    first = [
        cascade.decide(i, owner_addresses=owners, classified=a)
        for i, a in zip(items, answers, strict=True)
    ]
    decided: list[tuple[dict[str, Any], cascade.Decision]] = []
    to_model: list[tuple[dict[str, Any], cascade.Decision]] = []
    for item, decision in zip(items, first, strict=True):
        if decision.stage == "rules":
            if item["state"] == "received":
                st.transition(
                    item["id"],
                    "no_action",
                    actor="triage_rules",
                    reason_code=decision.rule,
                    reason=decision.reason[:300],
                    expect=("received",),
                    detail=stages.detail(decision, clf.version),
                    category="spam" if decision.category == "spam" else None,
                )
        elif decision.needs_model:
            to_model.append((item, decision))
        else:
            decided.append((item, decision))

    client = llm.client(st, run_id=context.run.run_id, asset="triage")
    # Few-shot: mail like this one the owner confirmed, chosen by code and recorded.
    shots = examples_for_batch(
        st, memory.get(st), [i for i, _ in to_model], "triage", config.memory.budgets,
        context.run.run_id,
    )  # fmt: skip
    requests = [
        CallRequest(
            "triage",
            i["id"],
            prompt.messages(
                i, config, examples=shots[i["id"]].render() if shots[i["id"]].rows else ""
            ),
            TriageResult,
            prompt.VERSION,
        )
        for i, _ in to_model
    ]
    results = client.run(requests)
    outputs: dict[str, dict[str, Any]] = {}
    final: dict[str, cascade.Decision] = {}
    for item, decision in decided:
        final[item["id"]] = decision
        outputs[item["id"]] = stages.code_output(item, decision, urgency(item))
    for (item, decision), result in zip(to_model, results, strict=True):
        if result.output is not None:
            answer = result.output.model_dump()
            now = cascade.decide(
                item,
                owner_addresses=owners,
                classified=decision.classified,
                modelled=answer["category"],
                model_asked=True,
            )
            final[item["id"]] = now
            outputs[item["id"]] = {
                **answer,
                "urgency": urgency(item),
                **stages.decision_fields(now),
            }
    suite = validate(
        expectations.SUITE,
        [expectations.row(i, o) for i, o in outputs.items()],
        expectations.rules(),
    )
    for item, _ in decided:
        output = outputs[item["id"]]
        failure = suite.first_reason(item["id"])
        _reconsider(st, item, output, failure)
        row = stages.code_row(item, output, failure, batch, context.run.run_id, clf.version)
        if not stages.same_decision(st.get_output(item["id"], "triage"), row):
            keep_output(st, item, row)
        _settle(st, item, output, failure, final[item["id"]], clf.version, config, failures)
    on_budget = settings.policy().budgets.on_exhausted
    for (item, _), request, result in zip(to_model, requests, results, strict=True):
        received = item["state"] == "received"
        answered = outputs.get(item["id"])
        failure = result.error_code or suite.first_reason(item["id"])
        if result.error_code not in RETRYABLE:
            # An answer (valid or not) is kept with its provenance; no answer keeps the old one.
            _reconsider(st, item, answered, failure)
            keep_answer(
                st,
                item,
                request,
                result,
                answered,
                failure,
                batch=batch,
                run_id=context.run.run_id,
                memory_ids=shots[item["id"]].refs,
            )
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
        elif answered is not None or failure:
            settled = final.get(item["id"])
            _settle(st, item, answered, failure, settled, clf.version, config, failures)

    # A broken prompt or model: nothing of this batch goes on to the drafter.
    judged = [i for i, _ in decided] + [i for i, _ in to_model]
    rate = hold_if_blocked(
        st,
        judged,
        "triage",
        batch=batch,
        stage="triaged",
        actor="triage_checks",
        limit=config.quality.max_failure_rate,
    )
    moved = {i["id"] for i in judged if i["state"] == "received"}
    stage_counts: Counter[str] = Counter(d.stage for d in final.values())
    stage_counts["rules"] = sum(d.stage == "rules" for d in first)
    return dg.MaterializeResult(
        metadata={
            **batch_metadata(
                results,
                rows=len(items),
                prompt_version=prompt.VERSION,
                model=client.endpoint.model,
                failures=failures,
                item_ids=[i["id"] for i in items],
            ),
            "cascade_version": stages.VERSION,
            "examples": sum(len(c.rows) for c in shots.values()),
            "classifier_version": clf.version or "none",
            "decided_by": dg.MetadataValue.json(dict(stage_counts)),
            "without_model": sum(d.stage in ("rules", "classifier") for d in first),
            "decisions": dg.MetadataValue.json(
                {i: stages.detail(d, clf.version) for i, d in final.items()}
            ),
        },
        check_results=[suite_check(SUITE_CHECK, suite.only(moved)), rate_check(RATE_CHECK, rate)],
    )


def _settle(
    st: Store,
    item: dict[str, Any],
    output: dict[str, Any] | None,
    failure: str | None,
    decision: cascade.Decision | None,
    version: str | None,
    config: Config,
    failures: Counter[str],
) -> None:
    """Move a received item on after its answer: a failed check or a risky disagreement to
    the owner, else along its route; the stage and confidence go into the audit trail."""
    if failure:
        failures[failure] += 1
    if item["state"] != "received":
        return
    detail = stages.detail(decision, version) if decision is not None else None
    if failure:
        st.transition(
            item["id"],
            "awaiting_human",
            actor="triage_checks",
            reason_code=failure,
            reason=f"triage failed check: {failure}",
            expect=("received",),
            detail=detail,
        )
    elif decision is not None and decision.stage == "owner":
        st.transition(
            item["id"],
            "awaiting_human",
            actor="triage",
            reason_code="triage_disagreement",
            reason=decision.reason[:300],
            expect=("received",),
            detail=detail,
        )
    elif output is not None:
        _route(st, item["id"], output, route_of(st, item, output["category"], config), detail)


def route_of(st: Store, item: dict[str, Any], category: str, config: Config) -> str:
    """The config's route for the category; but a mail answering one of our deliveries on its
    thread goes back to the workflow that sent it (a client's answer to a proposal is the
    proposals workflow's, whatever triage calls it). Spam is spam on any thread."""
    answered = answered_delivery(st, item) if category != "spam" else None
    if answered is not None:
        ours = st.get_item(answered["item_id"])
        if ours is not None and ours["kind"] == "follow_up":
            # A follow-up (a reply's, or a proposal's nudge) speaks for the item it follows,
            # named in its source (`<kind>:<item id>`): the answer goes to that one's workflow.
            ours = st.get_item(str(ours["source"]).partition(":")[2]) or ours
        if ours is not None and ours["route"] in workflows():
            return str(ours["route"])
    return config.route_for(category)


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


def _route(
    st: Store,
    item_id: str,
    output: dict[str, Any],
    route: str,
    detail: dict[str, Any] | None = None,
) -> bool:
    """Move a triaged item on; True when it goes to a workflow (found by its declaration)."""
    fields: dict[str, Any] = {
        "category": output["category"],
        "urgency": output["urgency"],
        "route": route,
        "detail": detail,
    }
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
    elif route in workflows():
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
