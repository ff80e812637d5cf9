"""Operator controls: the kill switch and the approval decisions."""

import hashlib
from pathlib import Path
from typing import Any

from ops_assets.agents.agent_run import final_draft
from ops_assets.defs.reply_draft.prompt import REPAIR_VERSION
from ops_assets.defs.reply_draft.validation import draft_problems
from ops_assets.governance.secrets import find_secrets
from ops_assets.quality.failures import HUMAN_CORRECTION
from resources.settings.config import Config
from resources.store import Store


class ControlError(Exception):
    """The operator's request cannot be carried out; the message says why."""


def kill(store: Store, *, actor: str = "operator") -> None:
    store.set_control("kill_switch", "on", actor=actor)


def resume(store: Store, *, actor: str = "operator") -> dict[str, int]:
    """Lift the kill switch and put every item it held back where it was going."""
    store.set_control("kill_switch", "off", actor=actor)
    moved = {"approved": 0, "received": 0}
    for item in store.items(states=["deferred"]):
        if item["reason_code"] != "kill_switch":
            continue
        approved = any(a["decision"] == "approved" for a in store.approvals_for(item["id"]))
        target = "approved" if approved else "received"
        if store.transition(
            item["id"],
            target,
            actor=actor,
            reason_code="resumed",
            reason="released by opsbench resume",
            expect=("deferred",),
        ):
            moved[target] += 1
            if target == "received" and item["batch"]:
                store.bump_batch_attempt(item["batch"])  # a fresh run key for the sensor
    return moved


def awaiting(store: Store) -> list[dict[str, Any]]:
    records = []
    for item in store.items(states=["awaiting_approval"]):
        draft = final_draft(store, item["id"]) or _proposal_as_draft(store, item)
        records.append(
            {
                "id": item["id"],
                "sender": item["sender"],
                "subject": item["subject"],
                "category": item["category"],
                "rule": item["reason_code"],
                "reason": item["reason"],
                "flags": item["flags"] or [],
                "to": (draft or {}).get("output", {}).get("to") if draft else None,
                "draft": (draft or {}).get("output", {}).get("body") if draft else None,
                "invite_slots": (((draft or {}).get("output") or {}).get("invite") or {}).get(
                    "slots", []
                ),
            }
        )
    return records


def _proposal_as_draft(store: Store, item: dict[str, Any]) -> dict[str, Any] | None:
    """A proposal waiting for the owner, shaped like a draft row: its recipient and cover mail
    (the plan, verifier rows and PDF are in `opsbench show`)."""
    if not _is_proposal(store, item["id"]):
        return None
    from resources.store import proposals

    version = proposals.latest(store, item["id"])
    if version is None:
        return None
    return {"output": {"to": version["to_address"], "body": version["cover_mail"]}}


def approve(
    store: Store,
    config: Config,
    item_id: str,
    *,
    edit: Path | None = None,
    text: str | None = None,
    actor: str = "operator",
) -> dict[str, Any]:
    """Approve the draft as it is, or as edited: the reply in the file `edit` or in `text`
    (the desk's form). A proposal goes to its workflow's own verb."""
    if _is_proposal(store, item_id):
        if edit is not None or text is not None:
            raise ControlError(
                f"{item_id} is a proposal: it is sent as the verifier passed it and cannot be "
                "edited here; reject it with the reason and the change you want"
            )
        return _proposal_verb(store, item_id, "approve", actor=actor)
    _awaiting_item(store, item_id)
    draft = final_draft(store, item_id)
    if draft is None or draft["output"] is None:
        raise ControlError(f"{item_id} has no draft to approve")
    changed = None
    if text is None and edit is not None:
        text = edit.read_text(encoding="utf-8")
    if text is not None:
        body = text.replace("\r\n", "\n").strip()
        problems = [p for p in draft_problems(body, config.quality) if p != "commitment"]
        if find_secrets(body) or "empty" in problems:
            raise ControlError(f"the edited reply cannot be sent: {', '.join(problems)}")
        changed = {"before": draft["output"]["body"], "after": body}
        store.save_output(
            {
                **{k: v for k, v in draft.items() if k != "created_at"},
                "output": {**draft["output"], "body": body},
                "valid": True,
                "failure": None,
                "run_id": draft["run_id"],
            }
        )
        _record_correction(store, draft, "edited", after=body)
    store.record_approval(
        item_id, "approved", actor=actor, policy="operator", note="edited" if changed else None
    )
    detail: dict[str, Any] = {"edited": changed is not None}
    if changed:  # hashes, not text: the audit log is append-only and must stay erasable
        detail.update(
            {k + "_sha256": hashlib.sha256(v.encode()).hexdigest() for k, v in changed.items()}
        )
    store.transition(
        item_id,
        "approved",
        actor=actor,
        reason_code=None,
        reason=None,
        expect=("awaiting_approval",),
        detail=detail,
    )
    return {"item": item_id, "state": "approved", "edited": changed is not None}


def reject(store: Store, item_id: str, *, reason: str, actor: str = "operator") -> dict[str, Any]:
    if _is_proposal(store, item_id):
        return _proposal_verb(store, item_id, "reject", actor=actor, reason=reason)
    _awaiting_item(store, item_id)
    draft = final_draft(store, item_id)
    if draft is not None:
        _record_correction(store, draft, "rejected", after=None, note=reason)
    store.record_approval(item_id, "rejected", actor=actor, policy="operator", note=reason)
    store.transition(
        item_id,
        "rejected",
        actor=actor,
        reason_code="rejected_by_operator",
        reason=reason[:300],
        expect=("awaiting_approval",),
    )
    return {"item": item_id, "state": "rejected"}


def _is_proposal(store: Store, item_id: str) -> bool:
    from ops_assets.defs.proposals.workflow import PROPOSALS

    item = store.get_item(item_id)
    return item is not None and item["route"] == PROPOSALS.name


def _proposal_verb(
    store: Store, item_id: str, verb: str, *, actor: str, reason: str = ""
) -> dict[str, Any]:
    """The proposals workflow's own approve / reject (its version moves with the item)."""
    from ops_assets.defs.proposals.approval import owner

    try:
        if verb == "approve":
            return owner.approve_proposal(store, item_id, actor=actor)
        return owner.reject_proposal(store, item_id, reason=reason, actor=actor)
    except owner.ProposalControlError as exc:
        raise ControlError(str(exc)) from exc


def _awaiting_item(store: Store, item_id: str) -> dict[str, Any]:
    item = store.get_item(item_id)
    if item is None:
        raise ControlError(f"no item {item_id}")
    if item["state"] != "awaiting_approval":
        raise ControlError(f"{item_id} is {item['state']}, not awaiting_approval")
    return item


def _record_correction(
    store: Store, draft: dict[str, Any], reason: str, *, after: str | None, note: str | None = None
) -> None:
    """The owner's edit or rejection joins the failures dataset: the best label there is."""
    # Charged to the prompt that wrote the body: the drafter's, or the repair prompt's when
    # the reviewer had it rewritten.
    version = draft["prompt_version"]
    if draft["asset"] == "review":
        first = store.get_output(draft["item_id"], "reply_draft")
        revised = (draft["output"] or {}).get("revisions")
        version = REPAIR_VERSION if revised or first is None else first["prompt_version"]
    store.record_failure(
        item_id=draft["item_id"],
        agent="reply_draft",
        kind=HUMAN_CORRECTION,
        reason=reason,
        prompt_version=version,
        model=draft["model"],
        run_id=draft["run_id"],
        input={"draft": (draft["output"] or {}).get("body")},
        output={"corrected": after, "note": note},
    )


DELIVERY_HOLDS = ("delivery_unconfirmed", "delivery_failed", "delivery_timeout")


def decide_delivery(
    store: Store, item_id: str, *, was_sent: bool, actor: str = "operator"
) -> dict[str, Any]:
    """The owner's word on a send the ledger could not confirm: it arrived (`was_sent`: the
    item is delivered, nothing is sent), or it did not (the same delivery is sent again,
    under the same key)."""
    item = store.get_item(item_id)
    if item is None:
        raise ControlError(f"no item {item_id}")
    if item["state"] != "awaiting_human" or item["reason_code"] not in DELIVERY_HOLDS:
        raise ControlError(f"{item_id} is not waiting on a delivery decision")
    rows = [d for d in store.deliveries_for(item_id) if d["purpose"] == "reply"]
    for row in rows:
        if row["state"] != "confirmed":
            store.delivery_mark(row["id"], "confirmed" if was_sent else "retry", receipt=actor)
    if was_sent:
        store.transition(
            item_id, "delivered", actor=actor, expect=("awaiting_human",), detail={"checked": True}
        )
        return {"item": item_id, "state": "delivered"}
    store.record_approval(item_id, "approved", actor=actor, policy="operator", note="resend")
    store.transition(item_id, "approved", actor=actor, expect=("awaiting_human",))
    return {"item": item_id, "state": "approved"}
