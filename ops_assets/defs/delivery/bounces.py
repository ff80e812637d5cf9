"""Mail that refers back to one of our replies: a delivery status notification (RFC 3464) or
an auto-reply (RFC 3834 `Auto-Submitted`, or the common vendor headers), linked at intake to
the delivery whose Message-ID it names (`<dlv_…@domain>`: In-Reply-To, References, the DSN's
returned message or headers, or an `Original-Message-ID` field).

- A DSN whose recipient `failed` -> the delivery is `bounced`, the replied item goes to the
  owner (`awaiting_human` / `delivery_bounced`), and for a permanent status (5.x.x) the
  address the reply went to is marked undeliverable: later replies to it are held.
- A DSN that says `delayed`, or an auto-reply -> a soft failure, recorded with the link.
Either way the reply's follow-ups are cancelled and the owner gets an alert. The address
marked is the delivery's own destination (decided by code when it was sent), never one the
incoming mail names. Linking is idempotent: a replayed registration links nothing twice."""

import email
import email.message
import email.parser
import email.policy
import email.utils
import re
from dataclasses import dataclass
from typing import Literal

from ops_assets.observability.alerts import write_alert
from resources.settings.home import Home
from resources.store import Store
from resources.store.mailbox_links import Link, delivery, mark_undeliverable, record_link

ACTOR = "bounces"
OUR_ID = re.compile(rb"<(dlv_[0-9a-f]{20})@[^<>\s]+>")
_STATUS = re.compile(r"^([245])\.\d{1,3}\.\d{1,3}")
_AUTO_HEADERS = ("x-autoreply", "x-autorespond", "x-auto-response-suppress")
_DAEMONS = re.compile(r"^(mailer-daemon|postmaster)@", re.I)
FOLLOW_UP_KIND = "follow_up"


@dataclass(frozen=True)
class Referral:
    kind: Literal["hard_bounce", "soft_failure", "auto_reply"]
    delivery_ids: tuple[str, ...]
    status: str | None = None
    permanent: bool = False


def _ids(*texts: str | bytes | None) -> list[str]:
    found: list[str] = []
    for text in texts:
        if not text:
            continue
        data = text.encode("utf-8", "replace") if isinstance(text, str) else text
        found += [m.decode() for m in OUR_ID.findall(data) if m.decode() not in found]
    return found


def _header_text(message: email.message.Message, *names: str) -> str:
    return " ".join(str(message.get(name) or "") for name in names)


def _parts(part: email.message.Message) -> list[email.message.Message]:
    """The messages a message/* part holds (email keeps them as a list payload)."""
    payload = part.get_payload()
    items = payload if isinstance(payload, list) else []
    return [m for m in items if isinstance(m, email.message.Message)]


def _dsn(message: email.message.Message) -> Referral | None:
    """An RFC 3464 report: the worst recipient's action and status, and the original's ids."""
    actions: list[tuple[str, str | None]] = []
    referred: list[str] = _ids(_header_text(message, "In-Reply-To", "References"))
    for part in message.walk():
        kind = part.get_content_type()
        if kind in ("message/delivery-status", "message/global-delivery-status"):
            for block in _parts(part):
                referred += _ids(
                    _header_text(block, "Original-Message-ID", "X-Original-Message-ID")
                )
                action = str(block.get("Action") or "").strip().lower()
                code = _STATUS.match(str(block.get("Status") or "").strip())
                if action:
                    actions.append((action, code.group(0) if code else None))
        elif kind in ("message/rfc822", "message/global"):
            for original in _parts(part):
                referred += _ids(str(original.get("Message-ID") or ""))
        elif kind in ("text/rfc822-headers", "text/global-headers"):
            raw = part.get_payload(decode=True)
            if isinstance(raw, bytes):
                headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(
                    raw
                )
                referred += _ids(str(headers.get("Message-ID") or ""))
    referred = list(dict.fromkeys(referred))
    if not referred or not actions:
        return None
    failed = [status for action, status in actions if action == "failed"]
    if failed:
        permanent = any(s is not None and s.startswith("5") for s in failed)
        status = next((s for s in failed if s and s.startswith("5")), failed[0])
        return Referral("hard_bounce", tuple(referred), status, permanent)
    delayed = [status for action, status in actions if action == "delayed"]
    if delayed:
        return Referral("soft_failure", tuple(referred), delayed[0])
    return None  # delivered, relayed, expanded: good news needs no link


def _auto_reply(message: email.message.Message) -> bool:
    auto = str(message.get("Auto-Submitted") or "").strip().lower()
    if auto.startswith("auto-replied"):
        return True
    precedence = str(message.get("Precedence") or "").strip().lower()
    return precedence == "auto_reply" or any(message.get(name) for name in _AUTO_HEADERS)


def read_referral(raw: bytes) -> Referral | None:
    """What this incoming message says about our replies, or None (most mail: nothing)."""
    if not OUR_ID.search(raw):
        return None  # cheap: it names none of our Message-IDs at all
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    if message.get_content_type() == "multipart/report":
        report = str(message.get_param("report-type") or "").lower()
        if report in ("delivery-status", "global-delivery-status"):
            return _dsn(message)
    if _auto_reply(message):
        referred = _ids(_header_text(message, "In-Reply-To", "References"))
        return Referral("auto_reply", tuple(referred)) if referred else None
    sender = email.utils.parseaddr(str(message.get("From") or ""))[1]
    if _DAEMONS.match(sender) and message.is_multipart():
        # A bounce in no standard form (some relays): the message it returns says which.
        for part in message.walk():
            if part.get_content_type() == "message/rfc822":
                for original in _parts(part):
                    referred = _ids(str(original.get("Message-ID") or ""))
                    if referred:
                        return Referral("hard_bounce", tuple(referred))
    return None


def link_incoming(store: Store, home: Home, mail_item_id: str, raw: bytes) -> Link | None:
    """Link a just-registered message to the reply it refers to, and act on it (once)."""
    referral = read_referral(raw)
    if referral is None:
        return None
    row = next(
        (r for r in map(lambda i: delivery(store, i), referral.delivery_ids) if r is not None),
        None,
    )
    if row is None or row["purpose"] != "reply":
        return None  # not ours (any more): an erased or foreign id
    link = Link(
        delivery_id=row["id"], item_id=row["item_id"], kind=referral.kind, status=referral.status
    )
    if not record_link(store, mail_item_id, link):
        return link  # linked before (a replay): everything below was done then
    if referral.kind == "hard_bounce":
        receipt = f"dsn_{referral.status}" if referral.status else "bounced"
        store.delivery_mark(row["id"], "bounced", receipt=receipt)
        if referral.permanent:
            mark_undeliverable(
                store, row["destination"], delivery_id=row["id"], status=referral.status
            )
        store.transition(
            row["item_id"],
            "awaiting_human",
            actor=ACTOR,
            reason_code="delivery_bounced",
            reason="our reply bounced"
            + (": the address is marked undeliverable" if referral.permanent else ""),
            expect=("delivered",),
            detail={"delivery_id": row["id"], "bounce_item": mail_item_id},
        )
    else:
        store.audit(
            row["item_id"],
            ACTOR,
            "delivery_soft_failure",
            {"delivery_id": row["id"], "kind": referral.kind, "status": referral.status},
        )
    cancelled = cancel_follow_ups(store, row["item_id"], referral.kind)
    write_alert(
        home,
        "delivery_bounced" if referral.kind == "hard_bounce" else "delivery_soft_failure",
        item_id=row["item_id"],
        delivery_id=row["id"],
        link=referral.kind,
        status=referral.status,
        undeliverable=referral.permanent,
        mail_item_id=mail_item_id,
        follow_ups_cancelled=cancelled,
    )
    return link


# Where a follow-up in each state goes when its reply bounced (what the state machine allows).
_CANCEL_TO = {
    "received": "rejected",
    "triaged": "no_action",
    "drafted": "awaiting_human",
    "reviewed": "rejected",
    "approved": "rejected",
    "awaiting_approval": "rejected",
    "awaiting_human": "rejected",
    "deferred": "received",  # then rejected, below
}


def cancel_follow_ups(store: Store, item_id: str, why: str) -> int:
    """The follow-up of this reply is not made, or stops where it is (a sent one stays sent).
    A follow-up not made yet is registered as `rejected` under its id: the follow-up schedule
    makes one per reply, and finds it taken."""
    from ops_assets.orchestration.follow_ups import follow_up_id

    fid = follow_up_id(item_id)
    reason = f"the reply it follows was answered by a {why.replace('_', ' ')}"
    current = store.get_item(fid)
    if current is None:
        item = store.get_item(item_id)
        if item is None or item["kind"] == FOLLOW_UP_KIND:
            return 0  # never a follow-up of a follow-up
        store.register(
            {
                "id": fid,
                "source": f"followup:{item_id}",
                "kind": FOLLOW_UP_KIND,
                "sender": item["sender"],
                "subject": item["subject"],
                "state": "rejected",
                "reason_code": "follow_up_cancelled",
                "reason": reason,
            },
            batch=None,
            actor=ACTOR,
        )
        return 1
    state = current["state"]
    if state not in _CANCEL_TO:
        return 0  # sending or delivered: too late to take back
    if state == "deferred":
        store.transition(fid, "received", actor=ACTOR, expect=("deferred",))
        state = "received"
    return int(
        store.transition(
            fid,
            _CANCEL_TO[state],
            actor=ACTOR,
            reason_code="follow_up_cancelled",
            reason=reason,
            expect=(state,),
        )
    )
