"""Text and address helpers shared by both input kinds: results are always one line where a
header is meant, always encodable as UTF-8, and addresses are bare and lower-cased."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.utils import getaddresses

MAX_HEADER_CHARS = 998  # RFC 5322 line limit; also bounds what we keep from any header

_SURROGATES = re.compile(r"[\ud800-\udfff]")
LINE_BREAKING = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
_BODY_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def fix_surrogates(text: str) -> str:
    """Undo surrogateescape (raw 8-bit header bytes) so results always encode as UTF-8."""
    if not _SURROGATES.search(text):
        return text
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeError:
        # Lone surrogates that are not escapes (e.g. "\ud800" from JSON) cannot round-trip.
        return _SURROGATES.sub("\ufffd", text)


def one_line(text: str) -> str:
    """Collapse to a single line: CR/LF and other controls must not survive into a header."""
    text = LINE_BREAKING.sub(" ", fix_surrogates(text))
    return " ".join(text.split())


def header_value(text: str) -> str:
    return one_line(text)[:MAX_HEADER_CHARS]


def clean_body(text: str) -> str:
    text = fix_surrogates(text).replace("\r\n", "\n").replace("\r", "\n")
    return _BODY_CONTROLS.sub("", text).strip()


def token(text: str) -> str:
    """Short printable form of an attacker-controlled token (charset, suffix) for reasons."""
    return re.sub(r"[^A-Za-z0-9._:+-]", "?", text)[:40]


# Surrogates and U+FFFD mean undecodable bytes: such an "address" could never be replied to.
_BAD_ADDRESS_CHARS = re.compile(r"[\s\x00-\x1f\x7f<>(),;:\"\[\]\\\ud800-\udfff\ufffd]")


def valid_address(addr: str) -> str | None:
    """Return the lower-cased bare address, or None when it does not look like one."""
    addr = addr.strip()
    if addr.count("@") != 1 or len(addr) > 320 or _BAD_ADDRESS_CHARS.search(addr):
        return None
    local, _, domain = addr.partition("@")
    if not local or not domain:
        return None
    return addr.lower()


def address_list(values: Iterable[str]) -> tuple[str, ...]:
    found: list[str] = []
    for _name, addr in getaddresses(list(values)):
        valid = valid_address(addr)
        if valid and valid not in found:
            found.append(valid)
    return tuple(found)


def decode_words(raw: str) -> str:
    try:
        return str(make_header(decode_header(raw)))
    except Exception:  # broken encoded-words: keep the raw text rather than fail the mail
        return raw


def iso_datetime(value: datetime) -> str:
    # "-0000" dates come back naive; RFC 5322 says they are UTC with unknown local offset.
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()
