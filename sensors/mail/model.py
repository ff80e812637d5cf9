"""What the parser returns, and the stable codes and flags it can attach."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

# Quarantine is for what is not mail at all (or cannot be read as a file).
QUARANTINE_CODES = (
    "not_email",
    "broken_mime",
    "undecodable_charset",
    "oversize",
    "invalid_json_item",
    "unsupported_type",
    "unreadable",
    "not_a_file",
)

# Item flags raised by the parser; they travel on the work item like the injection flags.
HIDDEN_TEXT = "hidden_text"  # HTML text a reader cannot see was removed
CHARSET_FALLBACK = "charset_fallback"  # the declared charset was wrong or unknown
PARSER_FLAGS = (HIDDEN_TEXT, CHARSET_FALLBACK)

_MAX_REASON_CHARS = 200
_LINE_BREAKING = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029\ud800-\udfff]+")


class UnusableInput(Exception):
    """Input that can never become a work item; kept in quarantine with this reason."""

    def __init__(self, code: str, reason: str) -> None:
        if code not in QUARANTINE_CODES:
            raise ValueError(f"unknown quarantine code {code!r}")
        self.code = code
        self.reason = " ".join(_LINE_BREAKING.sub(" ", reason).split())[:_MAX_REASON_CHARS] or code
        super().__init__(f"{code}: {self.reason}")


@dataclass(frozen=True)
class Attachment:
    """A part that is not the body: kept beside the item, never shown to a model."""

    name: str  # the sender's file name, one line (may be "")
    content_type: str
    data: bytes = field(repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class ParsedMessage:
    """One intake file, normalised: single-line headers, plain-text body, bare addresses."""

    kind: str  # "eml" or "json"
    sender: str | None  # bare lower-cased address; None when nobody can be answered at it
    sender_name: str
    to: tuple[str, ...]
    reply_to: str | None
    subject: str
    body: str  # the whole visible text; prompts cut it, the store keeps it
    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    received_at: str | None
    headers: dict[str, str]
    has_attachments: bool
    attachments: tuple[Attachment, ...] = ()
    flags: tuple[str, ...] = ()
    # What intake should remember beyond the contract: unknown JSON fields, which charset was
    # really used, a body longer than prompts show.
    extra: dict[str, Any] = field(default_factory=dict)
