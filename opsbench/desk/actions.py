"""The desk's actions: one form each, each the same function its CLI verb calls. Every
submit is audited (`desk_action`: the action, the item or fact, its nonce and the outcome —
codes and hashes, never the owner's text) and acts at most once per form nonce."""

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ops_assets.governance import controls
from ops_assets.governance.owner_reply import write_reply
from opsbench import memory_review
from opsbench.desk import corrections
from opsbench.desk.security import claim_nonce
from opsbench.retry import RetryError, retry_item
from resources.settings.config import Config
from resources.settings.home import Home
from resources.store import Store

ACTOR = "owner"
MAX_FIELD = 20_000


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str  # shown to the owner (escaped by the template)


class ActionError(Exception):
    """The form cannot be acted on; the message says why."""


Handler = Callable[[Home, Store, Config, Mapping[str, str]], dict[str, Any]]


def _item(form: Mapping[str, str]) -> str:
    item = form.get("item", "")
    if not item.startswith("itm_") or len(item) > 64:
        raise ActionError("no such item")
    return item


def _text(form: Mapping[str, str], name: str) -> str:
    text = form.get(name, "")
    if len(text) > MAX_FIELD:
        raise ActionError(f"{name} is too long")
    if not text.strip():
        raise ActionError(f"{name} is empty")
    return text


def _approve(home: Home, store: Store, config: Config, form: Mapping[str, str]) -> dict[str, Any]:
    return controls.approve(store, config, _item(form), actor=ACTOR)


def _edit(home: Home, store: Store, config: Config, form: Mapping[str, str]) -> dict[str, Any]:
    return controls.approve(store, config, _item(form), text=_text(form, "body"), actor=ACTOR)


def _reject(home: Home, store: Store, config: Config, form: Mapping[str, str]) -> dict[str, Any]:
    return controls.reject(store, _item(form), reason=_text(form, "reason")[:300], actor=ACTOR)


def _reply(home: Home, store: Store, config: Config, form: Mapping[str, str]) -> dict[str, Any]:
    return write_reply(store, config, _item(form), _text(form, "body"), actor=ACTOR)


def _arrived(home: Home, store: Store, config: Config, form: Mapping[str, str]) -> dict[str, Any]:
    return controls.decide_delivery(store, _item(form), was_sent=True, actor=ACTOR)


def _resend(home: Home, store: Store, config: Config, form: Mapping[str, str]) -> dict[str, Any]:
    return controls.decide_delivery(store, _item(form), was_sent=False, actor=ACTOR)


def _retry(home: Home, store: Store, config: Config, form: Mapping[str, str]) -> dict[str, Any]:
    item = _item(form)
    return {"item": item, "batch": retry_item(store, item)}


def _fact(home: Home, store: Store, config: Config, form: Mapping[str, str]) -> dict[str, Any]:
    fact = form.get("fact", "")
    if not fact or len(fact) > 128:
        raise ActionError("no such fact")
    memory = memory_review.reader(home, config)
    return memory_review.resolve(memory, store, fact, form.get("keep", ""))


def _category(form: Mapping[str, str]) -> str:
    from typing import get_args

    from ops_assets.defs.triage.contract import Category

    category = form.get("category", "")
    if category not in get_args(Category):
        raise ActionError("no such category")
    return category


def _accept_correction(
    home: Home, store: Store, config: Config, form: Mapping[str, str]
) -> dict[str, Any]:
    return corrections.accept(store, _item(form), _category(form))


def _dismiss_correction(
    home: Home, store: Store, config: Config, form: Mapping[str, str]
) -> dict[str, Any]:
    return corrections.dismiss(store, _item(form), _category(form))


def _kill(home: Home, store: Store, config: Config, form: Mapping[str, str]) -> dict[str, Any]:
    controls.kill(store, actor=ACTOR)
    return {"kill_switch": "on"}


def _resume(home: Home, store: Store, config: Config, form: Mapping[str, str]) -> dict[str, Any]:
    return {"kill_switch": "off", "released": controls.resume(store, actor=ACTOR)}


ACTIONS: dict[str, Handler] = {
    "approve": _approve,
    "edit": _edit,
    "reject": _reject,
    "reply": _reply,
    "arrived": _arrived,
    "resend": _resend,
    "retry": _retry,
    "fact": _fact,
    "correction_accept": _accept_correction,
    "correction_dismiss": _dismiss_correction,
    "kill": _kill,
    "resume": _resume,
}
ERRORS = (
    ActionError,
    controls.ControlError,
    RetryError,
    memory_review.MemoryReviewError,
)


def act(home: Home, store: Store, config: Config, form: Mapping[str, str]) -> Outcome:
    """Carry out one submitted form (its CSRF token already checked)."""
    action, nonce = form.get("action", ""), form.get("nonce", "")
    handler = ACTIONS.get(action)
    subject = form.get("item") or form.get("fact") or None
    audit: dict[str, Any] = {"action": action if handler else "unknown", "nonce": nonce[:64]}
    for field in ("body", "reason"):
        if form.get(field):
            audit[f"{field}_sha256"] = hashlib.sha256(form[field].encode()).hexdigest()
    item_id = subject if subject and subject.startswith("itm_") and len(subject) <= 64 else None
    if handler is None:
        store.audit(item_id, ACTOR, "desk_action", {**audit, "outcome": "unknown_action"})
        return Outcome(False, "unknown action")
    if not claim_nonce(store, nonce):
        store.audit(item_id, ACTOR, "desk_action", {**audit, "outcome": "repeated"})
        return Outcome(False, f"{action}: this form was already submitted; nothing done again")
    try:
        result = handler(home, store, config, form)
    except ERRORS as exc:
        store.audit(item_id, ACTOR, "desk_action", {**audit, "outcome": "refused"})
        return Outcome(False, f"{action}: {exc}")
    store.audit(item_id, ACTOR, "desk_action", {**audit, "outcome": "done"})
    state = f", now {result['state']}" if isinstance(result.get("state"), str) else ""
    return Outcome(True, f"{action}: done" + (f" ({subject}{state})" if subject else ""))
