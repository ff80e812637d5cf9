"""Code checks on a reply against the mail it answers, whatever the reviewer said.

A model that obeys the mail shows it in its reply: it repeats the sender's text (an
instruction, a link, an encoded blob) or answers as if the sender were the business. These
checks read both texts normalised, so a homoglyph or a zero-width space hides nothing.
"""

import re
from typing import Any

from ops_assets.governance.injection import encoded_runs
from ops_assets.governance.normalize import for_rules
from resources.settings.config import Identity

SPAN_WORDS = 8
"""Consecutive words of the mail that a reply may not repeat (a quote of an instruction)."""
_WORD = re.compile(r"[^\W_]+")
_GREETING = re.compile(
    r"^\W*(hi|hello|hey|dear|good (morning|afternoon|evening)|greetings|hallo|bonjour|hola)\b"
    r"[\s,]*(?P<who>[^\n]*)",
    re.I,
)


def _words(text: str) -> list[str]:
    return _WORD.findall(for_rules(text).lower())


def _unquoted(body: str) -> str:
    """The sender's own words: lines quoting an earlier mail (ours, often) are not theirs."""
    return "\n".join(line for line in body.splitlines() if not line.lstrip().startswith(">"))


def repeats_mail(reply: str, mail_body: str, span: int = SPAN_WORDS) -> bool:
    """The reply repeats `span` or more consecutive words of the mail."""
    mail = _words(_unquoted(mail_body))
    spans = {tuple(mail[i : i + span]) for i in range(len(mail) - span + 1)}
    words = _words(reply)
    return any(tuple(words[i : i + span]) in spans for i in range(len(words) - span + 1))


def repeats_encoded(reply: str, mail_text: str) -> bool:
    """The reply carries an encoded run: one from the mail, or one of its own."""
    reply_text = for_rules(reply)
    return bool(encoded_runs(reply_text)) or any(
        run in reply_text for run in encoded_runs(for_rules(mail_text))
    )


def addresses_business(reply: str, identity: Identity, sender_name: str | None) -> bool:
    """The reply greets the owner or the business, as a mail *to* us would."""
    first = next((line for line in reply.splitlines() if line.strip()), "")
    greeting = _GREETING.match(for_rules(first))
    if greeting is None:
        return False
    greeted = set(_words(greeting.group("who")))
    sender = set(_words(sender_name or ""))
    ours = [identity.business_name, identity.owner_name, identity.owner_name.split()[0]]
    for name in ours:
        words = set(_words(name))
        if words and words <= greeted and not words <= sender:
            return True
    return False


def draft_problems(reply: str, item: dict[str, Any], identity: Identity) -> list[str]:
    """Reason codes for a reply that echoes its mail; empty when it does not."""
    subject, body = item.get("subject") or "", item.get("body") or ""
    problems = []
    if repeats_mail(reply, body):
        problems.append("draft_repeats_mail")
    if repeats_encoded(reply, f"{subject}\n{body}"):
        problems.append("draft_repeats_encoded")
    if addresses_business(reply, identity, item.get("sender_name")):
        problems.append("draft_addresses_business")
    return problems
