"""The proposal_answer asset: each client answer to a proposal we sent, read by code first
(an auto-reply is no answer) then by the model with a typed contract validated row by row;
the deal moves, and the item goes to the owner or, for a request for changes, back into the
workflow as a new drafted version. Ended deals are told to episodic memory."""

from collections import Counter

import dagster as dg

from ops_assets.agents.agent_run import RETRYABLE, batch_metadata, holder_is_gone, keep_answer
from ops_assets.defs.proposals.calls import BATCH, agent_client
from ops_assets.defs.proposals.catalogue import catalogue_path, load_catalogue
from ops_assets.defs.proposals.leads import defer_unanswered
from ops_assets.defs.proposals.replies import expectations, prompt
from ops_assets.defs.proposals.replies.answers import answers, not_an_answer
from ops_assets.defs.proposals.replies.contract import ClientAnswer
from ops_assets.defs.proposals.replies.episodes import remember_ended
from ops_assets.defs.proposals.replies.settle import AGENT, no_action, revise, settle, to_owner
from ops_assets.defs.proposals.workflow import GROUP
from ops_assets.quality.suites import validate
from resources.llm.client import CallRequest, CallResult
from resources.llm.resource import LLMResource
from resources.memory import MemoryResource
from resources.scopes import require_scope
from resources.settings import SettingsResource
from resources.store.resource import StoreResource


@dg.asset(group_name=GROUP, kinds={"openai", "sqlite"}, code_version=prompt.VERSION)
def proposal_answer(
    context: dg.AssetExecutionContext,
    settings: SettingsResource,
    store: StoreResource,
    llm: LLMResource,
    memory: MemoryResource,
) -> dg.MaterializeResult:
    """accepted -> deal won, the owner told; declined -> deal declined, the owner told;
    question -> the owner; revision_requested -> a new code-priced version, `drafted`."""
    config, st, run_id = settings.config(), store.get(), context.run.run_id
    outcome: Counter[str] = Counter()
    found = answers(st)
    work = []
    for answer in found:
        item = answer.item
        if (code := not_an_answer(item)) is not None:
            outcome["not_an_answer"] += no_action(st, item["id"], code)
        elif answer.version is None:
            outcome["to_owner"] += to_owner(
                st, item["id"], "proposal_not_found", "answers a proposal no longer kept"
            )
        else:
            work.append(answer)
    results: list[CallResult] = []
    if work:
        require_scope(st, AGENT, "connector:crm", settings.policy().scopes)
        # Reading an answer is routing work: the workflow's small model unless it names one.
        client = agent_client(llm, st, run_id, AGENT, profile="small")
        requests = [
            CallRequest(
                AGENT,
                a.item["id"],
                prompt.messages(a.item, a.version or {}, config),
                ClientAnswer,
                prompt.READ_VERSION,
            )
            for a in work
        ]
        results = client.run(requests)
        defer_unanswered(st, results, actor=AGENT)
        answered = [
            (a, q, r)
            for a, q, r in zip(work, requests, results, strict=True)
            if r.error_code not in RETRYABLE
        ]
        suite = validate(
            expectations.SUITE,
            [
                expectations.row(r.item_id, r.output)
                for _, _, r in answered
                if isinstance(r.output, ClientAnswer)
            ],
            expectations.rules(),
        )
        revisions = []
        for answer, request, result in answered:
            read = result.output
            failure = result.error_code or suite.first_reason(answer.item["id"])
            output = read.model_dump(mode="json") if read is not None else None
            keep_answer(st, answer.item, request, result, output, failure, batch=BATCH,
                        run_id=run_id)  # fmt: skip
            if failure or not isinstance(read, ClientAnswer):
                code = failure or "no_output"
                outcome["to_owner"] += to_owner(
                    st, answer.item["id"], code, f"{AGENT} failed: {code}"
                )
                continue
            settled = settle(st, answer, read)
            if settled == "revision":
                revisions.append((answer, read))
            else:
                outcome[settled] += 1
        catalogue = load_catalogue(catalogue_path(settings)) if revisions else None
        if catalogue is not None:
            made, drafted = revise(context, st, llm, config, catalogue, revisions)
            outcome["revision_requested"] += made
            results += drafted
    require_scope(st, AGENT, "memory:write", settings.policy().scopes)
    remembered = remember_ended(st, memory.get(st), run_id, holder_is_gone(context), asset=AGENT)
    return dg.MaterializeResult(
        metadata={
            **batch_metadata(
                results,
                rows=len(found),
                prompt_version=prompt.VERSION,
                model=config.llm.model or "",
                failures=Counter({k: v for k, v in outcome.items() if k == "to_owner"}),
                item_ids=sorted(a.item["id"] for a in found),
            ),
            "outcome": dg.MetadataValue.json(dict(outcome)),
            "episodes_written": remembered,
        }
    )
