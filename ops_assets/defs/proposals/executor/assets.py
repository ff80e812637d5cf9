"""The proposal_draft asset: the first version of each planned lead's proposal."""

from collections import Counter

import dagster as dg

from ops_assets.agents.agent_run import batch_metadata
from ops_assets.defs.proposals.catalogue import catalogue_path, load_catalogue
from ops_assets.defs.proposals.executor import prompt
from ops_assets.defs.proposals.executor.work import draft, first_job
from ops_assets.defs.proposals.leads import advance, leads
from ops_assets.defs.proposals.workflow import GROUP
from resources.llm.resource import LLMResource
from resources.settings import SettingsResource
from resources.store import Store
from resources.store import proposals as rows
from resources.store.resource import StoreResource


@dg.asset(
    group_name=GROUP,
    kinds={"openai", "sqlite"},
    code_version=prompt.VERSION,
    deps=["proposal_plan"],
)
def proposal_draft(
    context: dg.AssetExecutionContext,
    settings: SettingsResource,
    store: StoreResource,
    llm: LLMResource,
) -> dg.MaterializeResult:
    """A scope of work per planned lead: the model picks services and quantities, code prices
        them from the catalogue, dates them and renders the Markdown kept as version 1; the item
    moves to `drafted`."""
    config, st = settings.config(), store.get()
    catalogue = load_catalogue(catalogue_path(settings))
    jobs = [
        first_job(st, item, config, catalogue)
        for item, _ in leads(st)
        if rows.plan(st, item["id"]) and _needs_a_first_draft(st, item["id"])
    ]
    made, results = draft(context, st, llm, config, catalogue, jobs)
    # Every lead with its first version goes on to the verifier: those written now and those
    # a run that died after writing left behind.
    for item, _ in leads(st):
        if not _needs_a_first_draft(st, item["id"]):
            advance(st, item["id"], "drafted", actor="proposal_draft", expect=("triaged",))
    failures = Counter(
        (rows.get_version(st, i, v) or {}).get("reason_code") or "" for i, v in made.items()
    )
    failures.pop("", None)
    return dg.MaterializeResult(
        metadata={
            **batch_metadata(
                results,
                rows=len(jobs),
                prompt_version=prompt.VERSION,
                model=config.llm.model or "",
                failures=failures,
                item_ids=sorted(made),
            ),
            "catalogue_version": catalogue.version,
        }
    )


def _needs_a_first_draft(st: Store, item_id: str) -> bool:
    """No version yet, or the newest failed: a lead back in `triaged` after failing is one the
    owner retried (a failing run rests it with the owner, never in `triaged`), so it starts a
    new attempt; the failed versions stay as they were."""
    latest = rows.latest(st, item_id)
    return latest is None or latest["status"] == "failed"
