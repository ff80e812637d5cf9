"""Cheap deterministic rules that run before any model: they are free, fast and never fooled
by the text of a message, and the local model is weak exactly where they are strong. They read
the normalised text (`governance.normalize`): a Cyrillic letter or a zero-width space inside
"viagra" is no way past them."""

import re
from typing import Any

from ops_assets.defs.triage.spam_rules import spam_reason
from ops_assets.governance.authentication import verdict
from ops_assets.governance.normalize import for_rules

BOUNCE_SENDERS = re.compile(r"^(mailer-daemon|postmaster|bounces?)@", re.I)
# A machine's address: no answer is due, but phishing is sent from these too, so the spam
# rules read the mail before this one stops it.
NO_REPLY_SENDERS = re.compile(r"^(no-?reply|do-?not-?reply|notifications?)@", re.I)
# Auto-reply subjects in the languages the owner's clients write (the text is normalised:
# no accents).
AUTO_SUBJECT = re.compile(
    r"^(auto(matic)?[ -]?reply|out of (the )?office|autoreply|undeliverable|"
    r"delivery status notification|abwesenheit|automatische antwort|reponse automatique|"
    r"absence du bureau|respuesta automatica|fuera de la oficina|risposta automatica|"
    r"fuori ufficio|automatisch antwoord|afwezig|resposta automatica)",
    re.I,
)
SPAM_WORDS = re.compile(
    r"\b(you have won|claim your prize|crypto giveaway|100% free|viagra|casino bonus|"
    r"guaranteed (seo|ranking)|act now)\b",
    re.I,
)
URGENT_WORDS = re.compile(
    r"\b(urgent|asap|immediately|down|outage|emergency|critical|today)\b", re.I
)


def no_action_rule(item: dict[str, Any], owner_addresses: list[str]) -> tuple[str, str] | None:
    """(reason_code, reason) when the item must never be answered, else None."""
    headers = {k.lower(): str(v).lower() for k, v in (item.get("headers") or {}).items()}
    sender = (item.get("sender") or "").lower()
    if sender in owner_addresses:
        if verdict(item) == "fail":
            # Never answered either way; the reason says it was someone else.
            return (
                "spoofed_own_address",
                "claims an owner's address, but the receiving server could not authenticate it",
            )
        return "own_address", "sent from one of the owner's own addresses"
    auto = headers.get("auto-submitted", "no")
    if auto and auto != "no":
        return "auto_reply", f"Auto-Submitted: {auto}"
    if headers.get("content-type", "").startswith("multipart/report") or BOUNCE_SENDERS.match(
        sender
    ):
        return "bounce", "delivery report or bounce"
    subject, body = for_rules(item.get("subject")), for_rules(item.get("body"))
    if "x-auto-response-suppress" in headers or AUTO_SUBJECT.match(subject):
        return "auto_reply", "automatic reply"
    if headers.get("x-spam-flag") == "yes" or SPAM_WORDS.search(f"{subject} {body}"):
        return "spam_rule", "matches the spam rules"
    why = spam_reason(sender, subject, body, owner_addresses)
    if why:
        return "spam_rule", why
    if headers.get("precedence") in ("bulk", "list", "junk"):
        return "bulk", f"Precedence: {headers['precedence']}"
    if "list-id" in headers or "list-unsubscribe" in headers:
        return "mailing_list", "mailing-list message (List-Id / List-Unsubscribe)"
    if NO_REPLY_SENDERS.match(sender):
        return "bounce", "sent from a no-reply address"
    return None


def urgency(item: dict[str, Any]) -> str:
    text = for_rules(f"{item.get('subject') or ''}\n{item.get('body') or ''}")
    return "high" if URGENT_WORDS.search(text) else "normal"
