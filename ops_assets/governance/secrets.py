"""Secret-shaped strings: never persisted in outputs, never sent."""

import re

PATTERNS = {
    "openai_key": re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}"),
    "aws_access_key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "private_key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "github_token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}"),
    "slack_token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "password_assignment": re.compile(
        r"(?i)\b(password|passwd|api[_-]?key|secret)\s*[:=]\s*\S{6,}"
    ),
}


def find_secrets(text: str) -> list[str]:
    """Names of the secret patterns found in text (never the matches themselves)."""
    return [name for name, pattern in PATTERNS.items() if pattern.search(text)]
