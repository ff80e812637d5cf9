"""Drafting one version of a proposal: the model's prose and service choices, priced and
dated by code, rendered to Markdown, judged by the suite and kept as a new version. Used by
the executor's asset (first drafts) and the verifier's (bounded revisions)."""

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

from ops_assets.agents.agent_run import keep_answer, valid_output
from ops_assets.defs.proposals.calls import BATCH, agent_client
from ops_assets.defs.proposals.catalogue import Catalogue
from ops_assets.defs.proposals.executor import expectations, prompt
from ops_assets.defs.proposals.executor.contract import ProposalDraft
from ops_assets.defs.proposals.executor.pricing import price
from ops_assets.defs.proposals.executor.render import markdown
from ops_assets.defs.proposals.leads import defer_unanswered, retry_later, to_owner
from ops_assets.defs.reply_draft.compose import reply_recipient, reply_subject, strip_sign_off
from ops_assets.quality.suites import validate
from resources.llm.client import CallRequest, CallResult
from resources.llm.resource import LLMResource
from resources.settings.config import Config
from resources.store import Store
from resources.store import proposals as rows

AGENT = "proposal_draft"


@dataclass(frozen=True)
class Job:
    item: dict[str, Any]
    messages: list[dict[str, str]]
    prompt_version: str


def services_text(catalogue: Catalogue) -> str:
    return "\n".join(
        f"{s.code}: {s.name}, per {s.unit}, at most {s.max_quantity}" for s in catalogue.services
    )


def first_job(st: Store, item: dict[str, Any], config: Config, catalogue: Catalogue) -> Job:
    plan = rows.plan(st, item["id"])
    messages = prompt.messages(item, plan, config, services=services_text(catalogue))
    return Job(item, messages, prompt.DRAFT_VERSION)


def revise_job(job: Job, previous: dict[str, Any], feedback: str) -> Job:
    return Job(
        job.item, prompt.revise_messages(job.messages, previous, feedback), prompt.REVISE_VERSION
    )


def draft(
    context: dg.AssetExecutionContext,
    st: Store,
    llm: LLMResource,
    config: Config,
    catalogue: Catalogue,
    jobs: Sequence[Job],
) -> tuple[dict[str, int], list[CallResult]]:
    """Item id -> the new version's number, for each job the model answered usably."""
    if not jobs:
        return {}, []
    client = agent_client(llm, st, context.run.run_id, AGENT)
    requests = [
        CallRequest(AGENT, j.item["id"], j.messages, ProposalDraft, j.prompt_version) for j in jobs
    ]
    results = client.run(requests)
    defer_unanswered(st, results, actor=AGENT)
    today = dt.datetime.now(dt.UTC).date()
    made: dict[str, int] = {}
    checked = []
    for job, request, result in zip(jobs, requests, results, strict=True):
        if retry_later(result):
            continue
        answer = result.output
        if not isinstance(answer, ProposalDraft):
            code = result.error_code or "no_output"
            keep_answer(
                st, job.item, request, result, None, code, batch=BATCH, run_id=context.run.run_id
            )
            to_owner(st, job.item["id"], actor=AGENT, code=code, reason=f"{AGENT} failed: {code}")
            continue
        checked.append((job, request, result, answer, price(answer, catalogue, today)))
    suite = validate(
        expectations.SUITE,
        [
            expectations.row(
                job.item["id"],
                _prose(answer),
                answer.cover_mail,
                lines_priced=not priced.problems and bool(priced.lines),
            )
            for job, _, _, answer, priced in checked
        ],
        expectations.rules(),
    )
    for job, request, result, answer, priced in checked:
        item = job.item
        reasons = suite.failing.get(item["id"], [])
        brief = valid_output(st, item["id"], "proposal_context") or {}
        client_name = brief.get("client_name") or item.get("sender_name") or ""
        text = markdown(
            answer,
            priced,
            currency=catalogue.currency,
            business=config.identity.business_name,
            client=client_name,
            plan=rows.plan(st, item["id"]),
        )
        cover = strip_sign_off(answer.cover_mail, config.identity)
        output = answer.model_dump(mode="json")
        keep_answer(
            st,
            item,
            request,
            result,
            output,
            reasons[0] if reasons else None,
            batch=BATCH,
            run_id=context.run.run_id,
        )
        made[item["id"]] = rows.add_version(
            st,
            {
                "item_id": item["id"],
                "title": answer.title,
                "markdown": text,
                "lines": priced.lines,
                "total": float(priced.total),
                "currency": catalogue.currency,
                "valid_until": priced.valid_until.isoformat(),
                "start_date": priced.start_date.isoformat(),
                "to_address": reply_recipient(item),
                "subject": reply_subject(item.get("subject")),
                "cover_mail": cover,
                "content_sha256": hashlib.sha256(f"{text}\n--\n{cover}".encode()).hexdigest(),
                "catalogue_version": catalogue.version,
                "prompt_version": job.prompt_version,
                "corrections": priced.corrections,
                "feedback": ", ".join([*priced.problems, *reasons]) or None,
                "reason_code": next(iter([*priced.problems, *reasons]), None),
            },
        )
    return made, results


def _prose(answer: ProposalDraft) -> str:
    parts = [answer.title, answer.summary, answer.cover_mail]
    parts += [f"{s.heading}\n{s.text}" for s in answer.scope]
    return "\n".join(parts)
