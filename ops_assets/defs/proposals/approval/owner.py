"""The owner's verbs on a proposal waiting for approval. `opsbench approve ITEM` and
`reject` reach these once governance/controls.py dispatches proposals here."""

from typing import Any

from resources.store import Store
from resources.store import proposals as rows


class ProposalControlError(Exception):
    """The owner's request cannot be carried out; the message says why."""


def waiting(st: Store, item_id: str) -> dict[str, Any]:
    version = rows.latest(st, item_id)
    if version is None:
        raise ProposalControlError(f"{item_id} has no proposal")
    if version["status"] != "awaiting_approval":
        raise ProposalControlError(
            f"{item_id} proposal v{version['version']} is {version['status']}, "
            "not awaiting_approval"
        )
    return version


def approve_proposal(st: Store, item_id: str, *, actor: str = "operator") -> dict[str, Any]:
    """Approve the newest version as it stands (what the owner saw is what goes out)."""
    version = waiting(st, item_id)
    if not rows.set_status(
        st, item_id, version["version"], "approved", actor=actor, expect=("awaiting_approval",)
    ):
        raise ProposalControlError(f"{item_id} moved meanwhile")
    st.record_approval(
        item_id, "approved", actor=actor, policy="operator", note=f"proposal v{version['version']}"
    )
    return {"item": item_id, "version": version["version"], "status": "approved"}


def reject_proposal(
    st: Store, item_id: str, *, reason: str, actor: str = "operator"
) -> dict[str, Any]:
    version = waiting(st, item_id)
    if not rows.set_status(
        st,
        item_id,
        version["version"],
        "rejected",
        actor=actor,
        expect=("awaiting_approval",),
        reason_code="rejected_by_operator",
        feedback=reason[:300],
    ):
        raise ProposalControlError(f"{item_id} moved meanwhile")
    st.record_approval(item_id, "rejected", actor=actor, policy="operator", note=reason[:300])
    st.transition(
        item_id,
        "rejected",
        actor=actor,
        reason_code="rejected_by_operator",
        reason=reason[:300],
        expect=("awaiting_human",),
    )
    return {"item": item_id, "version": version["version"], "status": "rejected"}
