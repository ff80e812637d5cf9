"""Row-level checks on a drafted reply, before anything can be sent.

Each returns a reason code; an empty list means the draft may go on.
"""

import re

from ops_assets.governance.secrets import find_secrets
from resources.settings.config import Quality

# Any bracketed words ("[Customer's Name]", "[contact information]"): real replies have none.
PLACEHOLDER = re.compile(
    r"\[[^\]\n]*[A-Za-z]{2}[^\]\n]*\]|\{\{[^}]*\}\}|<(name|customer|company)>", re.I
)
SUBJECT_LINE = re.compile(r"^\s*subject\s*:", re.I | re.M)
# Asking a customer for credentials is what phishing does; we never do it.
ASKS_FOR_SECRET = re.compile(
    r"\b(provide|send|share|tell|give|confirm)\b[^.?!\n]{0,60}\b(password|passcode|pin|"
    r"card number|credit card|cvv|security code|login details)\b",
    re.I,
)
# Promises the owner's policies keep for a human (refunds, discounts, dates).
COMMITMENT = re.compile(
    r"\b(we|i)('ll| will| shall| are going to)\s+(\w+\s+){0,3}(refund|reimburse|credit|"
    r"discount)|\brefund (will|shall) be (processed|issued|made)|\bwithin \d+ (business |working )?"
    r"(days|hours)\b|\b\d+% (off|discount)\b",
    re.I,
)


# Reason code -> pattern a draft must not contain, in the order the owner sees them.
PATTERNS: dict[str, re.Pattern[str]] = {
    "placeholder": PLACEHOLDER,
    "subject_line": SUBJECT_LINE,
    "asks_for_secret": ASKS_FOR_SECRET,
    "commitment": COMMITMENT,
}


def draft_problems(text: str, quality: Quality) -> list[str]:
    """The reply_draft suite's rules in plain Python, for one edited reply (no GE import)."""
    stripped = text.strip()
    problems = [] if stripped else ["empty"]
    if len(stripped) < quality.min_reply_chars:
        problems.append("too_short")
    if len(stripped) > quality.max_reply_chars:
        problems.append("too_long")
    problems += [r for r in ("placeholder", "subject_line") if PATTERNS[r].search(stripped)]
    if find_secrets(stripped):
        problems.append("secret")
    problems += [r for r in ("asks_for_secret", "commitment") if PATTERNS[r].search(stripped)]
    return problems
