"""What an answer does once read: the deal moves along deals.py's arrows, and the item moves
on. Accepted, declined and questions wait for the owner with a reason code (they may answer
themselves); a request for changes becomes a new version written for the answer item, priced
from the catalogue by the executor's code, linked to the version it revises, and the item goes
to `drafted` for the verifier, the approval and the sending like any drafted proposal.

Every step is a compare-and-set or a put-once, so a run that died between the deal's move and
the item's finds the deal moved and finishes the item; its model calls come from the ledger."""

from typing import Any

import dagster as dg

from ops_assets.agents.agent_run import RETRYABLE
from ops_assets.defs.delivery import ledger
from ops_assets.defs.proposals.catalogue import Catalogue
from ops_assets.defs.proposals.deals import NEXT, amount_of, deal_of, move_deal
from ops_assets.defs.proposals.executor import prompt as executor_prompt
from ops_assets.defs.proposals.executor.work import Job, draft, services_text
from ops_assets.defs.proposals.replies import prompt
from ops_assets.defs.proposals.replies.answers import Answer
from ops_assets.defs.proposals.replies.contract import ClientAnswer
from resources.llm.client import CallResult
from resources.llm.resource import LLMResource
from resources.settings.config import Config
from resources.store import Store
from resources.store import proposals as rows

AGENT = "proposal_answer"
STAGE_OF = {
    "accepted": "accepted",
    "declined": "declined",
    "revision_requested": "revision_requested",
}
OWNER_CODES = {
    "accepted": "proposal_accepted",
    "declined": "proposal_declined",
    "question": "proposal_question",
}


def to_owner(st: Store, item_id: str, code: str, reason: str) -> bool:
    return st.transition(
        item_id,
        "awaiting_human",
        actor=AGENT,
        reason_code=code,
        reason=reason[:300],
        expect=("triaged",),
    )


def no_action(st: Store, item_id: str, code: str) -> bool:
    return st.transition(
        item_id,
        "no_action",
        actor=AGENT,
        reason_code=code,
        reason=f"not an answer to our proposal ({code})",
        expect=("triaged",),
    )


def may_move(st: Store, item: dict[str, Any], stage: str) -> bool:
    deal = deal_of(st, item["id"])
    was = deal["stage"] if deal else None
    return was is None or was == stage or stage in NEXT.get(was, frozenset())


def settle(st: Store, answer: Answer, read: ClientAnswer) -> str:
    """Move the deal, then the item (not a revision: that is `revise`); the outcome."""
    item, version = answer.item, answer.version or {}  # one without went to the owner
    stage = STAGE_OF.get(read.outcome)
    if stage is not None:
        if not may_move(st, item, stage):
            deal = deal_of(st, item["id"]) or {}
            to_owner(
                st,
                item["id"],
                f"deal_already_{deal.get('stage')}"[:60],
                f"the client answered {read.outcome} on a deal already {deal.get('stage')}: "
                f"{read.summary}",
            )
            return "deal_closed"
        move_deal(st, item, stage, amount=amount_of(version) if version else None)
        ledger.failpoint("proposal_answer:after_deal")
    if read.outcome == "revision_requested":
        return "revision"
    to_owner(
        st,
        item["id"],
        OWNER_CODES[read.outcome],
        f"the client answered proposal v{version.get('version')}: {read.summary}",
    )
    return read.outcome


def revise(
    context: dg.AssetExecutionContext,
    st: Store,
    llm: LLMResource,
    config: Config,
    catalogue: Catalogue,
    wanted: list[tuple[Answer, ClientAnswer]],
) -> tuple[int, list[CallResult]]:
    """A new version per request for changes (a version kept from a run that died is reused),
    linked to the version it revises; the answer item to `drafted`. How many were made."""
    jobs, ready = [], []
    for answer, read in wanted:
        item, sent = answer.item, answer.version
        if sent is None:
            continue
        if rows.latest(st, item["id"]) is not None:
            ready.append(answer)  # drafted before a crash: finish it, never pay twice
            continue
        # The answer carries the plan the revision is verified against (the verifier reads
        # the item's own plan) and is written from the conversation that made the original.
        plan = rows.plan(st, sent["item_id"])
        rows.save_plan(st, item["id"], plan, prompt_version=prompt.VERSION)
        base = st.get_item(sent["item_id"]) or item
        first = executor_prompt.messages(base, plan, config, services=services_text(catalogue))
        kept = st.get_output(sent["item_id"], "proposal_draft")
        previous = (kept or {}).get("output") or {}
        messages = prompt.revision_messages(first, previous, item, read.changes, config)
        jobs.append(Job(item, messages, prompt.REVISION_VERSION))
        ready.append(answer)
    _, results = draft(context, st, llm, config, catalogue, jobs)
    made = 0
    answered_later = {r.item_id for r in results if r.error_code in RETRYABLE}
    for answer in ready:
        item, sent = answer.item, answer.version
        new = rows.latest(st, item["id"])
        if new is None or sent is None:
            if item["id"] not in answered_later:
                to_owner(st, item["id"], "revision_failed", "the revision could not be drafted")
            continue
        rows.link_revision(
            st,
            item["id"],
            new["version"],
            revises_item=sent["item_id"],
            revises_version=sent["version"],
        )
        if st.transition(
            item["id"],
            "drafted",
            actor=AGENT,
            expect=("triaged",),
            detail={"proposal_version": new["version"], "revises": sent["item_id"]},
        ):
            made += 1
    return made, results
