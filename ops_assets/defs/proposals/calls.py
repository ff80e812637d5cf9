"""One agent's model calls over the leads it has work for, judged by its suite: the pattern
every agent of the workflow shares (answers kept with provenance, failures to the owner)."""

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from pydantic import BaseModel

from ops_assets.agents.agent_run import batch_metadata, keep_answer
from ops_assets.defs.proposals.leads import defer_unanswered, retry_later, to_owner
from ops_assets.defs.proposals.workflow import PROPOSALS
from ops_assets.quality.suites import Rule, SuiteOutcome, validate
from resources.llm.client import CallRequest, CallResult, ModelClient
from resources.llm.resource import LLMResource
from resources.store import Store

BATCH = "proposals"
"""The `batch` of the workflow's output rows: it drains the store, it is not partitioned."""


@dataclass
class Judged:
    """What one agent run produced: the answers that passed, per item."""

    passed: dict[str, BaseModel] = field(default_factory=dict)
    failures: Counter[str] = field(default_factory=Counter)
    results: list[CallResult] = field(default_factory=list)
    suite: SuiteOutcome | None = None
    model: str = ""


def agent_client(
    llm: LLMResource, st: Store, run_id: str | None, agent: str, profile: str | None = None
) -> ModelClient:
    """The model client for one of the workflow's agents: its model profile (or `profile`
    when it names none) and the tokens its longest valid answer needs."""
    return llm.client(
        st,
        run_id=run_id,
        asset=agent,
        profile=PROPOSALS.models.get(agent, profile),
        answer_tokens=PROPOSALS.answer_tokens.get(agent),
    )


def run_agent(
    context: dg.AssetExecutionContext,
    st: Store,
    llm: LLMResource,
    *,
    agent: str,
    work: Sequence[tuple[dict[str, Any], list[dict[str, str]]]],
    schema: type[BaseModel],
    prompt_version: str,
    suite: str,
    rules: list[Rule],
    row: Callable[[str, Any], dict[str, Any]],
    to_output: Callable[[BaseModel], dict[str, Any]] = lambda o: o.model_dump(mode="json"),
) -> Judged:
    """Ask, judge each answer by the suite, keep every answer; a failing one sends its item to
    the owner with the rule as its reason. No answer (model down, budget) leaves it for later."""
    judged = Judged()
    if not work:
        return judged
    client = agent_client(llm, st, context.run.run_id, agent)
    judged.model = client.endpoint.model
    requests = [CallRequest(agent, i["id"], m, schema, prompt_version) for i, m in work]
    judged.results = client.run(requests)
    defer_unanswered(st, judged.results, actor=agent)
    answered = [
        (item, request, result)
        for (item, _), request, result in zip(work, requests, judged.results, strict=True)
        if not retry_later(result)
    ]
    judged.suite = validate(
        suite,
        [row(r.item_id, r.output) for _, _, r in answered if r.output is not None],
        rules,
    )
    for item, request, result in answered:
        output = to_output(result.output) if result.output is not None else None
        failure = result.error_code or judged.suite.first_reason(item["id"])
        keep_answer(
            st, item, request, result, output, failure, batch=BATCH, run_id=context.run.run_id
        )
        if failure or result.output is None:
            code = failure or "no_output"
            judged.failures[code] += 1
            to_owner(st, item["id"], actor=agent, code=code, reason=f"{agent} failed: {code}")
        else:
            judged.passed[item["id"]] = result.output
    return judged


def agent_metadata(judged: Judged, *, rows: int, prompt_version: str) -> dict[str, Any]:
    metadata = batch_metadata(
        judged.results,
        rows=rows,
        prompt_version=prompt_version,
        model=judged.model,
        failures=judged.failures,
        item_ids=sorted(judged.passed),
    )
    if judged.suite is not None:
        metadata.update({f"suite_{k}": v for k, v in judged.suite.metadata().items()})
    return metadata
