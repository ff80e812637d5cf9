"""Turn a validated draft into the outgoing message. Recipients and threading are decided here,
by code, from structured fields — never from the model's text."""

import datetime as dt
import email.policy
import email.utils
import re
from email.message import EmailMessage
from typing import Any

from ops_assets.agents.scheduling import invite_ics, slots_sentence
from ops_assets.governance.addresses import company_of, domain_of
from resources.settings.config import Identity


def reply_recipient(item: dict[str, Any]) -> str:
    """Reply-To is honoured only within the sender's own organisation's domain (a classic
    phishing lever); on a free-mail domain that would be anyone, so there it is not."""
    sender = item["sender"]
    reply_to = (item.get("reply_to") or "").lower()
    if reply_to and domain_of(reply_to) == domain_of(sender) and company_of(sender):
        return reply_to
    return sender


SIGN_OFF = re.compile(
    r"^\s*(best|kind|warm|many thanks|thanks|thank you|cheers|sincerely|regards|yours"
    r"( sincerely| truly)?|best regards|kind regards|warm regards|all the best)[,.!]?\s*$",
    re.I,
)


def strip_sign_off(body: str, identity: Identity) -> str:
    """Drop a sign-off the model wrote itself: the persona's signature is added by code."""
    lines = body.rstrip().splitlines()
    names = {
        identity.owner_name.lower(),
        identity.owner_name.split()[0].lower(),
        identity.business_name.lower(),
    }
    tail = max(0, len(lines) - 6)
    for index in range(len(lines) - 1, tail - 1, -1):
        if SIGN_OFF.match(lines[index]):
            return "\n".join(lines[:index]).rstrip()
    while lines and lines[-1].strip().rstrip(",.").lower() in names:
        lines.pop()
    return "\n".join(lines).rstrip()


def reply_subject(subject: str | None) -> str:
    subject = (subject or "").strip() or "your message"
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def compose_reply(
    item: dict[str, Any],
    body: str,
    identity: Identity,
    *,
    delivery_id: str,
    invite: dict[str, Any] | None = None,
) -> bytes:
    message = EmailMessage(policy=email.policy.SMTP)
    domain = identity.reply_from.rsplit("@", 1)[-1]
    message["From"] = email.utils.formataddr((identity.business_name, identity.reply_from))
    message["To"] = reply_recipient(item)
    message["Subject"] = reply_subject(item.get("subject"))
    # The idempotency key is the Message-ID: a receiver that saw it once can drop a resend.
    message["Message-ID"] = f"<{delivery_id}@{domain}>"
    if item.get("message_id"):
        message["In-Reply-To"] = item["message_id"]
        references = [*(item.get("references") or []), item["message_id"]]
        message["References"] = " ".join(references[-10:])
    message["X-Opsbench-Item"] = item["id"]
    text = body.strip()
    if invite:
        slots = [dt.datetime.fromisoformat(s) for s in invite["slots"]]
        text += "\n\n" + slots_sentence(slots)
    message.set_content(f"{text}\n\n{identity.signature.strip()}\n")
    if invite:
        ics = invite_ics(
            slots,
            uid=delivery_id,
            organizer=identity.reply_from,
            attendee=reply_recipient(item),
            summary=f"Call with {identity.owner_name} ({identity.business_name})",
            minutes=invite["minutes"],
        )
        message.add_attachment(
            ics,
            maintype="text",
            subtype="calendar",
            filename="invite.ics",
            params={"method": "PUBLISH"},
        )
    return message.as_bytes()
