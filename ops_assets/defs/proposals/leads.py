"""Which items the workflow works on, and how one moves or leaves it for the owner. Shared by
its agents (they never import each other's assets).

An item is the workflow's while its `route` is `proposals` and its state is in flight:
`triaged` (context, plan, first draft) -> `drafted` (the verifier) -> `reviewed` (the
`send_proposal` gate) -> `approved` (delivery) -> `sending` -> `delivered`. A failure rests it
as `awaiting_human` with the reason code; the owner's verbs take `awaiting_approval`."""

from collections.abc import Iterable
from typing import Any

from ops_assets.agents.agent_run import RETRYABLE, valid_output
from ops_assets.defs.proposals.workflow import PROPOSALS
from resources.llm.client import CallResult
from resources.store import Store
from resources.store.mailbox_links import answered_delivery

ROUTE = PROPOSALS.name
IN_FLIGHT = ("triaged", "drafted", "reviewed", "approved", "sending")


def answers_a_proposal(st: Store, item: dict[str, Any]) -> bool:
    """A client's mail on the thread of a proposal we sent: the replies' agents take it (the
    contract with ops_assets/defs/proposals/replies/), never the lead's agents."""
    from ops_assets.defs.proposals.replies.answers import proposal_delivery

    # On a proposal's thread, or on the thread of one of its nudges (sent as a reply).
    return proposal_delivery(st, answered_delivery(st, item)) is not None


def in_state(st: Store, *states: str) -> list[dict[str, Any]]:
    """The workflow's items in these states, oldest first."""
    return [i for i in st.items(states=list(states)) if i["route"] == ROUTE]


def leads(st: Store) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """New leads: items triage routed here (`triaged`) that answer no proposal of ours, with
    their triage output (read from its row, never re-asked)."""
    found = []
    for item in in_state(st, "triaged"):
        if answers_a_proposal(st, item):
            continue
        triage = valid_output(st, item["id"], "triage")
        if triage is not None:
            found.append((item, triage))
    return found


def advance(st: Store, item_id: str, target: str, *, actor: str, expect: tuple[str, ...]) -> bool:
    """Move a workflow item one step on, by compare-and-set (a re-run finds it moved)."""
    return st.transition(item_id, target, actor=actor, expect=expect)


def to_owner(st: Store, item_id: str, *, actor: str, code: str, reason: str) -> bool:
    """The item leaves the workflow and waits for the owner with the reason."""
    item = st.get_item(item_id)
    if item is None or item["state"] not in IN_FLIGHT:
        return False
    return st.transition(
        item_id,
        "awaiting_human",
        actor=actor,
        reason_code=code,
        reason=reason[:300],
        expect=(item["state"],),
    )


def retry_later(result: CallResult) -> bool:
    """No answer that a later run may get (model down, budget, kill switch)."""
    return result.error_code in RETRYABLE


def defer_unanswered(st: Store, results: Iterable[CallResult], *, actor: str) -> None:
    """Rest the item of each call a later run may answer as `deferred` with the reason, as the
    replies do: the deferred sensor tries it again after a backoff once the model's health
    probe answers (or the budget's day ends), and triage routes it back here, where each
    step finds what was done before. Left in flight instead, it started a run on every tick
    against a model that was down, and `opsbench demo` never came to rest."""
    from ops_assets.agents.agent_run import rest_after_failure

    for result in results:
        if retry_later(result):
            rest_after_failure(st, result.item_id, result, actor=actor, expect=IN_FLIGHT)


def is_lead(st: Store, item_id: str, *states: str) -> bool:
    """Still the workflow's to move in one of these states (the owner has not taken it over,
    it has not failed); any in-flight state when none is named."""
    item = st.get_item(item_id)
    wanted = states or IN_FLIGHT
    return item is not None and item["route"] == ROUTE and item["state"] in wanted
