"""The proposal_context asset: a brief of each new sales lead from its mail and our records."""

import dagster as dg

from ops_assets.agents.agent_run import valid_output
from ops_assets.defs.proposals.calls import agent_metadata, run_agent
from ops_assets.defs.proposals.context import expectations, prompt
from ops_assets.defs.proposals.context.contract import LeadBrief
from ops_assets.defs.proposals.context.records import crm_records
from ops_assets.defs.proposals.leads import leads
from ops_assets.defs.proposals.workflow import GROUP
from resources.llm.resource import LLMResource
from resources.settings import SettingsResource
from resources.store.resource import StoreResource

AGENT = "proposal_context"


@dg.asset(group_name=GROUP, kinds={"openai", "sqlite"}, code_version=prompt.VERSION)
def proposal_context(
    context: dg.AssetExecutionContext,
    settings: SettingsResource,
    store: StoreResource,
    llm: LLMResource,
) -> dg.MaterializeResult:
    """A brief (who, what they need, their budget and timing words) of each new sales lead,
    from the mail and what the CRM holds about the sender."""
    config, st = settings.config(), store.get()
    fresh = [(i, t) for i, t in leads(st) if valid_output(st, i["id"], AGENT) is None]
    work = [
        (item, prompt.messages(item, triage, config, records=crm_records(st, item)))
        for item, triage in fresh
    ]
    judged = run_agent(
        context,
        st,
        llm,
        agent=AGENT,
        work=work,
        schema=LeadBrief,
        prompt_version=prompt.VERSION,
        suite=expectations.SUITE,
        rules=expectations.rules(),
        row=expectations.row,
    )
    return dg.MaterializeResult(
        metadata=agent_metadata(judged, rows=len(work), prompt_version=prompt.VERSION)
    )
