"""The owner's own reply to an item that waits for them: their text, not the model's, goes
through the same checks, gate, ledger and delivery as an approved draft.

It is saved as the reply the delivery step sends (a `review` row for a `reply_draft` row, as
the reviewer leaves them) with the owner's provenance (`model` and `prompt_version` are
`owner`, no run, no cost), joins the failures dataset as a human correction (the best label
the drafter can get) and so episodic memory, and moves the item to `approved`. The recipient
and subject are decided by code, as for any reply."""

import hashlib
import os
import uuid
from typing import Any

from ops_assets.agents.agent_run import final_draft, owner_row
from ops_assets.defs.reply_draft.compose import reply_recipient, reply_subject
from ops_assets.defs.reply_draft.validation import draft_problems
from ops_assets.governance.controls import DELIVERY_HOLDS, ControlError, _record_correction
from ops_assets.governance.facts import facts_for
from ops_assets.governance.gate import SEND_REPLY
from ops_assets.governance.policy import decide
from ops_assets.governance.secrets import find_secrets
from ops_assets.orchestration.workflows import REPLIES, belongs_to
from ops_assets.quality.failures import HUMAN_CORRECTION
from resources.llm.hashing import canonical_json, text_hash
from resources.settings.config import Config
from resources.settings.policy import load_policy
from resources.store import Store

OWNER = "owner"  # the provenance of the owner's own words: model and prompt version
OWNER_REPLY = "owner_reply"
REPLYABLE = ("awaiting_human", "awaiting_approval")
OWNER_ROUTE = "human"  # the routing table's word for "the owner handles it"
# Held sends are settled by "it arrived" / "send again" (the same delivery, the same key): a
# second reply beside one that may have arrived would be a second message.
NOT_REPLYABLE = (*DELIVERY_HOLDS, "contact_erased")
MAX_REPLY_CHARS = 20_000


def write_reply(
    store: Store, config: Config, item_id: str, text: str, *, actor: str = OWNER
) -> dict[str, Any]:
    """Send the owner's `text` as the reply to `item_id` (awaiting the owner). One writer per
    item at a time (a store lock): two replies racing must not leave one's text under the
    other's approval."""
    holder = f"{os.getpid()}:{uuid.uuid4().hex}"
    if not store.acquire_lock(f"{OWNER_REPLY}:{item_id}", holder, _holder_is_gone):
        raise ControlError(f"{item_id} is being answered already")
    try:
        return _write_reply(store, config, item_id, text, actor=actor)
    finally:
        store.release_lock(f"{OWNER_REPLY}:{item_id}", holder)


def _write_reply(
    store: Store, config: Config, item_id: str, text: str, *, actor: str
) -> dict[str, Any]:
    item = store.get_item(item_id)
    if item is None:
        raise ControlError(f"no item {item_id}")
    if item["state"] not in REPLYABLE or item["reason_code"] in NOT_REPLYABLE:
        raise ControlError(f"{item_id} is {item['state']} ({item['reason_code']}): not answerable")
    if not item["sender"]:
        raise ControlError(f"{item_id} has no From address anyone could be answered at")
    body = text.replace("\r\n", "\n").strip()
    if len(body) > MAX_REPLY_CHARS:
        raise ControlError(f"the reply is longer than {MAX_REPLY_CHARS} characters")
    problems = [p for p in draft_problems(body, config.quality) if p != "commitment"]
    if find_secrets(body) or "empty" in problems:
        raise ControlError(f"the reply cannot be sent: {', '.join(problems) or 'a secret'}")

    previous = final_draft(store, item_id)
    earlier = (previous or {}).get("output") or {}
    to = earlier.get("to") or reply_recipient(item)
    policy = load_policy(config.policy_file)
    facts = facts_for(store, policy, item, to, body)
    decision = decide(policy, SEND_REPLY, facts)
    if decision.verdict == "forbidden":
        raise ControlError(f"policy rule {decision.rule} forbids this reply")

    # The correction is charged to the prompt whose draft the owner replaced (if any).
    if previous is not None and previous["output"] is not None:
        _record_correction(store, previous, OWNER_REPLY, after=body)
    else:
        store.record_failure(
            item_id=item_id,
            agent="reply_draft",
            kind=HUMAN_CORRECTION,
            reason=OWNER_REPLY,
            prompt_version=OWNER,
            model=OWNER,
            run_id=None,
            input={"draft": None},
            output={"corrected": body, "note": None},
        )
    draft = {"body": body, "to": to, "subject": reply_subject(item["subject"])}
    draft_hash = text_hash(canonical_json(draft))
    review: dict[str, Any] = {
        **draft,
        "verdict": "pass",
        "reasons": [],
        "feedback": "",
        "invite": None,
    }
    review |= {"revisions": 0, "draft_hash": draft_hash, "written_by": OWNER}
    for asset, output in (("reply_draft", draft), ("review", review)):
        store.save_output(owner_row(item, asset, output, model=OWNER))

    sha = hashlib.sha256(body.encode()).hexdigest()
    detail = {
        "owner_reply": True,
        "body_sha256": sha,  # a hash, not text: the audit log is append-only
        "policy": decision.policy_version,
        "rule": decision.rule,
    }
    # A reply is the replies' to send: an item of a workflow with its own delivery (a lead)
    # leaves it for the owner's route, its waiting proposal withdrawn first.
    leaves = {} if belongs_to(item, REPLIES) else {"route": OWNER_ROUTE}
    if leaves:
        detail["withdrawn_proposal"] = _withdraw_proposal(store, item, actor)
    if not store.transition(
        item_id,
        "approved",
        actor=actor,
        reason_code=None,
        reason=None,
        expect=REPLYABLE,
        detail=detail,
        **leaves,
    ):
        raise ControlError(f"{item_id} changed meanwhile; nothing was sent")
    store.record_approval(item_id, "approved", actor=actor, policy=OWNER, note=OWNER_REPLY)
    return {"item": item_id, "state": "approved", "to": to, "body_sha256": sha}


def _withdraw_proposal(store: Store, item: dict[str, Any], actor: str) -> int | None:
    from ops_assets.defs.proposals.approval import owner
    from ops_assets.defs.proposals.workflow import PROPOSALS

    if item["route"] != PROPOSALS.name:
        return None
    try:
        return owner.withdraw_for_owner_reply(store, item["id"], actor=actor)
    except owner.ProposalControlError as exc:
        raise ControlError(f"{exc}; nothing was sent") from exc


def _holder_is_gone(holder: str) -> bool:
    """A lock left by a process that died mid-reply (the owner's server runs on this machine)."""
    try:
        os.kill(int(holder.split(":", 1)[0]), 0)
    except ProcessLookupError:
        return True
    except (ValueError, PermissionError):
        return False
    return False
