"""The owner's verbs on a proposal waiting for approval. `opsbench approve ITEM`, `reject` and
the desk reach these through ops_assets/governance/controls.py for items on the proposals
route. Asking twice does nothing more: the decision is recorded and audited once."""

from typing import Any

from resources.store import Store
from resources.store import proposals as rows

APPROVED_ON = ("approved", "sending", "sent")


class ProposalControlError(Exception):
    """The owner's request cannot be carried out; the message says why."""


def _latest(st: Store, item_id: str) -> dict[str, Any]:
    version = rows.latest(st, item_id)
    if version is None:
        raise ProposalControlError(f"{item_id} has no proposal")
    return version


def waiting(st: Store, item_id: str) -> dict[str, Any]:
    version = _latest(st, item_id)
    if version["status"] != "awaiting_approval":
        raise ProposalControlError(
            f"{item_id} proposal v{version['version']} is {version['status']}, "
            "not awaiting_approval"
        )
    return version


def _answer(version: dict[str, Any], *, again: bool = False) -> dict[str, Any]:
    return {
        "item": version["item_id"],
        "version": version["version"],
        "status": version["status"],
        "state": "approved" if version["status"] in APPROVED_ON else version["status"],
        "again": again,
    }


def approve_proposal(st: Store, item_id: str, *, actor: str = "operator") -> dict[str, Any]:
    """Approve the newest version as it stands (what the owner saw is what goes out)."""
    version = _latest(st, item_id)
    if version["status"] in APPROVED_ON:
        return _answer(version, again=True)  # a second click: already on its way
    version = waiting(st, item_id)
    if not rows.set_status(
        st, item_id, version["version"], "approved", actor=actor, expect=("awaiting_approval",)
    ):
        raise ProposalControlError(f"{item_id} moved meanwhile")
    st.record_approval(
        item_id, "approved", actor=actor, policy="operator", note=f"proposal v{version['version']}"
    )
    st.transition(
        item_id,
        "approved",
        actor=actor,
        reason_code=None,
        reason=None,
        expect=("awaiting_approval",),
        detail={"proposal_version": version["version"]},
    )
    return _answer({**version, "status": "approved"})


def reject_proposal(
    st: Store, item_id: str, *, reason: str, actor: str = "operator"
) -> dict[str, Any]:
    version = _latest(st, item_id)
    if version["status"] == "rejected":
        return _answer(version, again=True)
    version = waiting(st, item_id)
    _reject_waiting(st, version, actor=actor, code="rejected_by_operator", why=reason[:300])
    st.record_approval(item_id, "rejected", actor=actor, policy="operator", note=reason[:300])
    st.transition(
        item_id,
        "rejected",
        actor=actor,
        reason_code="rejected_by_operator",
        reason=reason[:300],
        expect=("awaiting_approval",),
    )
    return _answer({**version, "status": "rejected"})


def withdraw_for_owner_reply(st: Store, item_id: str, *, actor: str = "operator") -> int | None:
    """The owner answers the lead in their own words instead: a version waiting for approval
    is rejected (`owner_replied`) so it can never be approved and sent beside the reply.
    Returns the version withdrawn, None when none waited."""
    version = rows.latest(st, item_id)
    if version is None or version["status"] != "awaiting_approval":
        return None
    why = "the owner answered with their own reply"
    _reject_waiting(st, version, actor=actor, code="owner_replied", why=why)
    return int(version["version"])


def _reject_waiting(st: Store, version: dict[str, Any], *, actor: str, code: str, why: str) -> None:
    """The version waiting for approval becomes `rejected` (compare-and-set, audited)."""
    item_id, number = version["item_id"], version["version"]
    if not rows.set_status(
        st,
        item_id,
        number,
        "rejected",
        actor=actor,
        expect=("awaiting_approval",),
        reason_code=code,
        feedback=why,
    ):
        raise ProposalControlError(f"{item_id} proposal v{number} moved meanwhile")
