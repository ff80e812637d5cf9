"""Which items the workflow works on, and how one leaves it for the owner. Shared by its
agents (they never import each other's assets)."""

from typing import Any

from ops_assets.agents.agent_run import RETRYABLE, valid_output
from ops_assets.defs.proposals.workflow import PROPOSALS, WAITING_FOR_AN_AGENT
from resources.llm.client import CallResult
from resources.store import Store


def leads(st: Store) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Items triage left for the owner for want of an agent, in a category the workflow takes,
    with their triage output (read from its row, never re-asked)."""
    found = []
    for item in st.items(states=["awaiting_human"]):
        if item["reason_code"] != WAITING_FOR_AN_AGENT:
            continue
        triage = valid_output(st, item["id"], "triage")
        if triage is not None and triage.get("category") in PROPOSALS.takes:
            found.append((item, triage))
    return found


def to_owner(st: Store, item_id: str, *, actor: str, code: str, reason: str) -> bool:
    """The item leaves the workflow and waits for the owner with the reason."""
    return st.transition(
        item_id,
        "awaiting_human",
        actor=actor,
        reason_code=code,
        reason=reason[:300],
        expect=("awaiting_human",),
    )


def retry_later(result: CallResult) -> bool:
    """No answer that a later run may get (model down, budget, kill switch): the lead stays."""
    return result.error_code in RETRYABLE


def is_lead(st: Store, item_id: str) -> bool:
    """Still the workflow's to move (the owner has not taken it over, it has not failed)."""
    item = st.get_item(item_id)
    return (
        item is not None
        and item["state"] == "awaiting_human"
        and item["reason_code"] == WAITING_FOR_AN_AGENT
    )
