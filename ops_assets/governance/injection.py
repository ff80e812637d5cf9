"""Flags on messages that try to steer the business: they are held for the owner, whatever a
model makes of them. Cheap, deterministic, and deliberately over-eager: a false flag costs one
approval click, a missed one can cost money."""

import re

_EMAIL = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
PATTERNS: dict[str, re.Pattern[str]] = {
    "bank_details_change": re.compile(
        r"\b(chang\w*|updat\w*|new|different|replace\w*)\b[^.\n]{0,40}\b(bank (details|account)"
        r"|iban|account number|routing number|sort code|swift|payment details)",
        re.I,
    ),
    "move_money": re.compile(
        r"\b(wire|transfer|send|move|pay)\b[^.\n]{0,30}\b(money|funds|payment|\d[\d,.]*\s?"
        r"(usd|eur|gbp|dollars|euros))|[$€£]\s?\d|\bgift cards?\b|\bcrypto(currency)? wallet",
        re.I,
    ),
    "reveal_prompt": re.compile(
        r"\b(ignore|disregard|forget)\b[^.\n]{0,30}\b(previous|prior|above|all|your)\b[^.\n]{0,20}"
        r"\b(instructions|rules|prompt)|\b(reveal|show|print|repeat)\b[^.\n]{0,30}\b(system )?"
        r"(prompt|instructions)\b|\bsystem prompt\b",
        re.I,
    ),
    # Asking *us* for secrets; a customer saying "my password does not work" is not that.
    "reveal_secrets": re.compile(
        r"\b(send|give|share|tell|reveal|show|provide|forward|paste|email|what(?:'s| is| are))"
        r"\b[^.\n]{0,30}\b(your|the|our|its|any)\b[^.\n]{0,15}\b(api[ -]?keys?|passwords?|"
        r"credentials|secret keys?|access tokens?|private keys?|tokens?)\b",
        re.I,
    ),
    "customer_data": re.compile(
        r"\b(all|other|your|every)\b[^.\n]{0,20}\b(customer|client|user)s?'?\b[^.\n]{0,20}"
        r"\b(data|list|records|e-?mails|addresses|database|details)\b",
        re.I,
    ),
    "send_elsewhere": re.compile(
        rf"\b(send|forward|cc|bcc|copy|reply|email)\b[^\n]{{0,60}}\b{_EMAIL}", re.I
    ),
}


def injection_flags(subject: str | None, body: str | None, sender: str | None) -> list[str]:
    """Names of the risky requests in a message (never the matched text)."""
    text = f"{subject or ''}\n{body or ''}"
    flags = [name for name, pattern in PATTERNS.items() if pattern.search(text)]
    if "send_elsewhere" in flags and sender:
        domain = sender.rsplit("@", 1)[-1].lower()
        others = [a for a in re.findall(_EMAIL, text) if a.lower().rsplit("@", 1)[-1] != domain]
        if not others:
            flags.remove("send_elsewhere")  # "reply to me at my own address" is fine
    return flags
