"""The proposal_plan asset: a bounded plan per briefed lead, kept as rows of the store."""

import dagster as dg

from ops_assets.agents.agent_run import valid_output
from ops_assets.defs.proposals.calls import agent_metadata, run_agent
from ops_assets.defs.proposals.catalogue import catalogue_path, load_catalogue
from ops_assets.defs.proposals.leads import leads
from ops_assets.defs.proposals.planner import expectations, prompt
from ops_assets.defs.proposals.planner.contract import Plan
from ops_assets.defs.proposals.workflow import GROUP
from resources.llm.resource import LLMResource
from resources.settings import SettingsResource
from resources.store import proposals as rows
from resources.store.resource import StoreResource

AGENT = "proposal_plan"


@dg.asset(
    group_name=GROUP,
    kinds={"openai", "sqlite"},
    code_version=prompt.VERSION,
    deps=["proposal_context"],
)
def proposal_plan(
    context: dg.AssetExecutionContext,
    settings: SettingsResource,
    store: StoreResource,
    llm: LLMResource,
) -> dg.MaterializeResult:
    """A plan of 3 to 7 steps (questions, scope, timeline, price basis), each with its success
    criterion, for each briefed lead; a plan failing its suite goes to the owner."""
    config, st = settings.config(), store.get()
    catalogue = load_catalogue(catalogue_path(settings))
    services = "\n".join(f"{s.code}: {s.name}, per {s.unit}" for s in catalogue.services)
    work = []
    for item, _ in leads(st):
        brief = valid_output(st, item["id"], "proposal_context")
        if brief is not None and valid_output(st, item["id"], AGENT) is None:
            work.append((item, prompt.messages(item, brief, config, services=services)))
    judged = run_agent(
        context,
        st,
        llm,
        agent=AGENT,
        work=work,
        schema=Plan,
        prompt_version=prompt.VERSION,
        suite=expectations.SUITE,
        rules=expectations.rules(),
        row=expectations.row,
    )
    for item_id, plan in judged.passed.items():
        if isinstance(plan, Plan):
            steps = [
                {"kind": s.kind, "description": s.description, "criterion": s.success_criterion}
                for s in plan.steps
            ]
            rows.save_plan(st, item_id, steps, prompt_version=prompt.VERSION)
    return dg.MaterializeResult(
        metadata=agent_metadata(judged, rows=len(work), prompt_version=prompt.VERSION)
    )
