"""Turn raw intake files (RFC 5322 mail or JSON work items) into ``ParsedMessage`` records.

The facade over ``sensors.mail``: it takes a file name and its bytes and either returns a
normalised ``ParsedMessage`` or raises ``UnusableInput`` with a stable reason code, so the
caller can quarantine the file. Intake files are attacker-controlled, so the contract is that
*no other exception escapes*, whatever the bytes are, and that hostile bytes stay cheap.

Quarantine is for what is not mail at all. Real mail is kept: attachments come back beside the
text (they do not count against the text limit), a wrong or unknown charset is decoded with a
fallback and flagged, hidden HTML text is removed and flagged, a message without a usable From
comes back with ``sender=None`` (the caller hands it to the owner).

Reasons attached to ``UnusableInput`` are one short line describing *what* is wrong. They never
quote message body text, because quarantine reasons end up in logs and dashboards.
"""

from __future__ import annotations

import re
from pathlib import PurePath

from sensors.mail.eml import KEPT_HEADERS, parse_eml
from sensors.mail.json_item import parse_json
from sensors.mail.model import (
    CHARSET_FALLBACK,
    HIDDEN_TEXT,
    PARSER_FLAGS,
    QUARANTINE_CODES,
    Attachment,
    ParsedMessage,
    UnusableInput,
)
from sensors.mail.text import token

__all__ = [
    "CHARSET_FALLBACK",
    "HIDDEN_TEXT",
    "KEPT_HEADERS",
    "MAX_FILE_BYTES",
    "PARSER_FLAGS",
    "QUARANTINE_CODES",
    "SUPPORTED_SUFFIXES",
    "Attachment",
    "ParsedMessage",
    "UnusableInput",
    "parse_input",
]

SUPPORTED_SUFFIXES = (".eml", ".json", "")  # "" = a Maildir message file with no extension

# The whole file, attachments included: beyond this nothing is read (mail providers refuse
# messages over 25-50 MB, so a bigger file is not one that arrived by mail).
MAX_FILE_BYTES = 50 * 1024 * 1024


def parse_input(
    name: str,
    data: bytes,
    *,
    max_bytes: int = 1_000_000,
    max_body_chars: int = 20_000,
    max_file_bytes: int = MAX_FILE_BYTES,
) -> ParsedMessage:
    """Raise UnusableInput for anything that cannot become a work item.

    ``max_bytes`` bounds the text (a JSON item, or a mail's body part), not its attachments;
    a body longer than ``max_body_chars`` is kept whole, and noted so that the desk can say
    prompts saw only its start.
    """
    # Size first: nothing else should spend time on a file we will refuse anyway.
    if len(data) > max(max_file_bytes, max_bytes):
        raise UnusableInput("oversize", f"file is {len(data)} bytes, limit is {max_file_bytes}")
    suffix = _suffix(name)
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnusableInput("unsupported_type", f"file type {token(suffix)!r} is not supported")
    is_json = suffix == ".json"
    try:
        if is_json:
            parsed = parse_json(data, max_text_bytes=max_bytes)
        else:
            parsed = parse_eml(data, max_text_bytes=max_bytes)
    except UnusableInput:
        raise
    except Exception as exc:  # the contract: hostile bytes may only ever yield UnusableInput
        code = "invalid_json_item" if is_json else "broken_mime"
        raise UnusableInput(code, f"parser failed unexpectedly ({type(exc).__name__})") from exc
    if len(parsed.body) > max_body_chars:
        parsed.extra["body_chars"] = len(parsed.body)
    return parsed


# Maildir names look like "1700000000.M12P34.host.example:2,S": PurePath.suffix would call that
# ".example:2,S", so recognise the shape (timestamp, unique part, host) before asking for a suffix.
# Unique parts are digits and upper-case tags (M, P, Q, V, I, R, _), so "1710000000.report.pdf"
# still counts as a PDF.
_MAILDIR_NAME = re.compile(r"^\d{9,}\.[A-Z0-9_]*\d[A-Z0-9_]*\.[^/\\]+$")


def _suffix(name: str) -> str:
    base = PurePath(name).name
    suffix = PurePath(base).suffix.lower()
    if suffix in (".eml", ".json"):
        return suffix
    if _MAILDIR_NAME.match(base):
        return ""
    return suffix
