"""The proposal mail, by code: the cover mail and signature, the PDF attached, the thread's
headers, and a Message-ID equal to the delivery's idempotency key."""

import email.policy
import email.utils
from email.message import EmailMessage
from typing import Any

from resources.settings.config import Identity


def attachment_name(version: dict[str, Any]) -> str:
    return f"proposal-v{version['version']}.pdf"


def compose_proposal(
    item: dict[str, Any],
    version: dict[str, Any],
    pdf: bytes,
    identity: Identity,
    *,
    delivery_id: str,
) -> bytes:
    message = EmailMessage(policy=email.policy.SMTP)
    domain = identity.reply_from.rsplit("@", 1)[-1]
    message["From"] = email.utils.formataddr((identity.business_name, identity.reply_from))
    message["To"] = version["to_address"]
    message["Subject"] = version["subject"]
    message["Date"] = email.utils.formatdate(usegmt=True)
    message["Message-ID"] = f"<{delivery_id}@{domain}>"
    if item.get("message_id"):
        message["In-Reply-To"] = item["message_id"]
        references = [*(item.get("references") or []), item["message_id"]]
        message["References"] = " ".join(references[-10:])
    message["X-Opsbench-Item"] = item["id"]
    message["X-Opsbench-Proposal"] = f"v{version['version']}"
    message.set_content(f"{version['cover_mail'].strip()}\n\n{identity.signature.strip()}\n")
    message.add_attachment(
        pdf, maintype="application", subtype="pdf", filename=attachment_name(version)
    )
    return message.as_bytes()
