"""What the desk page shows: everything waiting for the owner, oldest first, with why it waits.
Read only, through the store's facade and the existing read helpers (`controls.awaiting`,
`memory_review.conflicts`)."""

import logging
from typing import Any, TypedDict

from ops_assets.agents.agent_run import final_draft
from ops_assets.governance.controls import DELIVERY_HOLDS, awaiting
from ops_assets.governance.owner_reply import NOT_REPLYABLE
from opsbench.retry import RETRYABLE_STATES
from resources.settings.home import Home
from resources.store import Store, proposals

log = logging.getLogger("opsbench.desk")
MAX_BODY = 20_000  # what the page shows of a mail; the store keeps it all
PROPOSALS = "proposals"  # the route of the proposals workflow


class Waiting(TypedDict):
    id: str
    kind: str  # approval | escalation | held_send
    since: str
    received: str
    sender: str
    subject: str
    category: str
    state: str
    reason_code: str
    reason: str
    flags: list[str]
    to: str | None
    draft: str | None
    original: str
    cost_usd: float
    memory: list[dict[str, Any]]
    batch: str | None
    run_ids: list[str]
    answerable: bool
    retryable: bool
    proposal: dict[str, Any] | None
    """For route `proposals`: the plan, each version with the verifier's rows and its diff."""


def _common(store: Store, item: dict[str, Any], kind: str) -> Waiting:
    calls = store.calls_for_item(item["id"])
    draft = final_draft(store, item["id"])
    output = (draft or {}).get("output") or {}
    runs = {c["run_id"] for c in calls if c["run_id"]}
    runs |= {o["run_id"] for o in store.outputs_for(item["id"]) if o["run_id"]}
    return Waiting(
        id=item["id"],
        kind=kind,
        since=item["updated_at"],
        received=item["received_at"] or item["created_at"],
        sender=item["sender"] or "",
        subject=item["subject"] or "",
        category=item["category"] or "",
        state=item["state"],
        reason_code=item["reason_code"] or "",
        reason=item["reason"] or "",
        flags=list(item["flags"] or []),
        to=output.get("to"),
        draft=output.get("body"),
        original=(item["body"] or "")[:MAX_BODY],
        # A cached call was paid once, by its first use (as `opsbench audit` counts).
        cost_usd=round(sum(c["cost_usd"] for c in calls if not c["cached"]), 6),
        memory=[
            {"agent": m["agent"], "rows": len(m["row_ids"] or []), "tokens": m["tokens"]}
            for m in store.memory_contexts([item["id"]])
        ],
        batch=item["batch"],
        run_ids=sorted(runs),
        answerable=item["reason_code"] not in NOT_REPLYABLE,
        retryable=item["state"] in RETRYABLE_STATES and item["reason_code"] not in DELIVERY_HOLDS,
        proposal=proposals.story(store, item["id"]) if item.get("route") == PROPOSALS else None,
    )


def waiting(store: Store) -> list[Waiting]:
    """Approvals, escalations and held sends, the longest waiting first."""
    found = []
    rules = {a["id"]: a for a in awaiting(store)}
    for item in store.items(states=["awaiting_approval"]):
        record = _common(store, item, "approval")
        if item["id"] in rules:
            record["reason_code"] = rules[item["id"]]["rule"] or ""
        found.append(record)
    for item in store.items(states=["awaiting_human"]):
        kind = "held_send" if item["reason_code"] in DELIVERY_HOLDS else "escalation"
        found.append(_common(store, item, kind))
    return sorted(found, key=lambda w: (w["since"], w["id"]))


def contested_facts(home: Home) -> list[dict[str, Any]]:
    """Contested facts beside the facts they contradict (empty when memory is not there yet)."""
    from opsbench.memory_review import conflicts
    from resources.memory import Memory

    try:
        found = conflicts(Memory(home.memory))
    except Exception:  # memory unreadable: the desk still shows the rest
        log.exception("contested facts could not be read")
        return []
    rows = []
    for pair in found:
        fact, old = pair["fact"], pair["contradicts"] or {}
        rows.append(
            {
                "fact_id": fact["fact_id"],
                "contact": fact["contact"],
                "topic": fact.get("topic") or "",
                "new": fact.get("text") or "",
                "old": old.get("text") or "(gone)",
                "since": fact.get("created_at") or "",
            }
        )
    return sorted(rows, key=lambda r: r["since"])
