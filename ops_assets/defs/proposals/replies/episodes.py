"""What a proposal's story leaves in episodic memory when its deal ends (accepted, declined,
stalled): what was proposed (title, priced lines, total, versions) and how it ended, one row
per deal and end, through the memory API the archivist reads (resources/memory), so the next
proposal for this contact or company can be written knowing it.

Due episodes are found from the store (ended deals without their episode marker) and written
under the memory writers' lock; a run that finds the lock held leaves them for the next run."""

from collections.abc import Callable
from typing import Any

from ops_assets.defs.proposals.deals import ENDED, lead_of
from ops_assets.governance.addresses import company_of
from resources.memory import EPISODIC, WRITE_LOCK, Memory
from resources.store import Store
from resources.store import proposals as rows
from resources.store.store import now_iso

MARK = "proposal_episode:"
KIND = "proposal_outcome"
STATUSES = (
    "drafted", "revise", "verified", "failed", "awaiting_approval", "approved",
    "rejected", "sending", "sent", "send_unconfirmed", "send_failed", "send_erased",
)  # fmt: skip


def _marker(deal: dict[str, Any]) -> str:
    return f"{MARK}{deal['id']}:{deal['stage']}"


def due(st: Store) -> list[dict[str, Any]]:
    """Ended deals whose end is not yet in memory."""
    return [d for d in st.deals() if d["stage"] in ENDED and st.control(_marker(d)) is None]


def episode(st: Store, deal: dict[str, Any], run_id: str, asset: str) -> dict[str, Any]:
    lead = deal["source_item_id"]
    # The newest version of the deal: a revision lives on the answer that asked for it.
    newest = max(
        (v for v in _all_of_deal(st, lead) if v is not None),
        key=lambda v: v["created_at"],
        default=None,
    )
    chain = rows.history(st, newest["item_id"], newest["version"]) if newest else []
    lines = "; ".join(
        f"{x['quantity']} {x['unit']} {x['name']} ({x['code']}) {x['amount']}"
        for x in (newest or {}).get("lines") or []
    )
    proposed = (
        f"Proposed {newest['title']!r}: {lines}; total {float(newest['total']):.2f} "
        f"{newest['currency']} after {len(chain)} version(s)."
        if newest
        else "No proposal version was kept."
    )
    contact = (deal["contact_email"] or "").lower()
    return {
        "row_id": f"{lead}:deal:{deal['stage']}",
        "item_id": lead,
        "batch": "",
        "run_id": run_id,
        "memory_run_id": run_id,
        "asset": asset,
        "prompt_version": "",
        "model": "code",
        "contact": contact,
        "company": company_of(contact),
        "kind": KIND,
        "state": deal["stage"],
        "reason_code": f"deal_{deal['stage']}",
        "category": "sales",
        "text": f"{proposed} The deal ended {deal['stage']}.",
        "created_at": now_iso(),
    }


def _all_of_deal(st: Store, lead: str) -> list[dict[str, Any] | None]:
    """The newest version of the lead and of every item whose deal is the lead's."""
    found = [rows.latest(st, lead)]
    for version in rows.latest_by_status(st, STATUSES):
        if version["item_id"] != lead and lead_of(st, version["item_id"]) == lead:
            found.append(version)
    return found


def remember_ended(
    st: Store, mem: Memory, run_id: str, is_stale: Callable[[str], bool], *, asset: str
) -> int:
    """Write every due episode under the memory lock, then mark it; how many were written.
    A crash between the write and the mark rewrites the same row (same row id)."""
    pending = due(st)
    if not pending:
        return 0
    with st.holding_lock(WRITE_LOCK, run_id, is_stale) as held:
        if not held:
            return 0
        written = mem.write(EPISODIC, [episode(st, d, run_id, asset) for d in pending])
        for deal in pending:
            st.set_control(_marker(deal), "written", actor=asset)
    return written
