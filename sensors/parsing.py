"""Turn raw intake files (RFC 5322 mail or JSON work items) into ``ParsedMessage`` records.

This module is deliberately pure and stdlib-only: it takes a file name and its bytes and either
returns a normalised ``ParsedMessage`` or raises ``UnusableInput`` with a stable reason code, so
the caller can quarantine the file. Intake files are attacker-controlled, so the contract is that
*no other exception escapes*, whatever the bytes are, and that hostile bytes stay cheap.

The stdlib is tolerant but not hardened, so three things are guarded below: the modern header
parser (``email.policy.default``) raises ``IndexError``/``AttributeError``/``TypeError`` on some
malformed headers and is quadratic on long ones, so address and id headers are read raw and
MIME header sizes are budgeted before parsing; ``message_from_bytes`` itself can raise on a bad
Content-Type; and ``html.parser`` is quadratic on unclosed markup, so HTML is defused first.

Reasons attached to ``UnusableInput`` are one short line describing *what* is wrong. They never
quote message body text, because quarantine reasons end up in logs and dashboards.
"""

from __future__ import annotations

import codecs
import email
import email.errors
import email.policy
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import PurePath
from typing import Any

__all__ = [
    "QUARANTINE_CODES",
    "SUPPORTED_SUFFIXES",
    "ParsedMessage",
    "UnusableInput",
    "parse_input",
]

QUARANTINE_CODES = (
    "not_email",
    "broken_mime",
    "undecodable_charset",
    "oversize",
    "invalid_json_item",
    "unsupported_type",
)

SUPPORTED_SUFFIXES = (".eml", ".json", "")  # "" = a Maildir message file with no extension

MAX_HEADER_CHARS = 998  # RFC 5322 line limit; also bounds what we keep from any header
_MAX_REASON_CHARS = 200

# Headers downstream triage needs (auto-replies, bulk mail, bounces, spam); everything else is
# dropped so that a ParsedMessage stays small and predictable.
KEPT_HEADERS = (
    "auto-submitted",
    "precedence",
    "list-id",
    "list-unsubscribe",
    "x-auto-response-suppress",
    "content-type",
    "return-path",
    "x-spam-flag",
)


class UnusableInput(Exception):
    """Input that can never become a work item; kept in quarantine with this reason."""

    def __init__(self, code: str, reason: str) -> None:
        if code not in QUARANTINE_CODES:
            raise ValueError(f"unknown quarantine code {code!r}")
        self.code = code
        self.reason = _one_line(reason)[:_MAX_REASON_CHARS] or code
        super().__init__(f"{code}: {self.reason}")


@dataclass(frozen=True)
class ParsedMessage:
    """One intake file, normalised: single-line headers, plain-text body, bare addresses."""

    kind: str  # "eml" or "json"
    sender: str  # bare lower-cased address, never ""
    sender_name: str
    to: tuple[str, ...]
    reply_to: str | None
    subject: str
    body: str
    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    received_at: str | None
    headers: dict[str, str]
    has_attachments: bool


def parse_input(
    name: str,
    data: bytes,
    *,
    max_bytes: int = 1_000_000,
    max_body_chars: int = 20_000,
) -> ParsedMessage:
    """Raise UnusableInput for anything that cannot become a work item."""
    # Size first: nothing else should spend time on a file we will refuse anyway.
    if len(data) > max_bytes:
        raise UnusableInput("oversize", f"file is {len(data)} bytes, limit is {max_bytes}")
    suffix = _suffix(name)
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnusableInput("unsupported_type", f"file type {_token(suffix)!r} is not supported")
    is_json = suffix == ".json"
    try:
        if is_json:
            return _parse_json(data, max_body_chars)
        return _parse_eml(data, max_body_chars)
    except UnusableInput:
        raise
    except Exception as exc:  # the contract: hostile bytes may only ever yield UnusableInput
        code = "invalid_json_item" if is_json else "broken_mime"
        raise UnusableInput(code, f"parser failed unexpectedly ({type(exc).__name__})") from exc


# --------------------------------------------------------------------------- file names

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


# --------------------------------------------------------------------------- text helpers

_SURROGATES = re.compile(r"[\ud800-\udfff]")
_LINE_BREAKING = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
_BODY_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _fix_surrogates(text: str) -> str:
    """Undo surrogateescape (raw 8-bit header bytes) so results always encode as UTF-8."""
    if not _SURROGATES.search(text):
        return text
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeError:
        # Lone surrogates that are not escapes (e.g. "\ud800" from JSON) cannot round-trip.
        return _SURROGATES.sub("\ufffd", text)


def _one_line(text: str) -> str:
    """Collapse to a single line: CR/LF and other controls must not survive into a header."""
    text = _LINE_BREAKING.sub(" ", _fix_surrogates(text))
    return " ".join(text.split())


def _header_value(text: str) -> str:
    return _one_line(text)[:MAX_HEADER_CHARS]


def _clean_body(text: str, limit: int) -> str:
    text = _fix_surrogates(text).replace("\r\n", "\n").replace("\r", "\n")
    text = _BODY_CONTROLS.sub("", text)
    return text.strip()[:limit]


def _token(text: str) -> str:
    """Short printable form of an attacker-controlled token (charset, suffix) for reasons."""
    return re.sub(r"[^A-Za-z0-9._:+-]", "?", text)[:40]


# --------------------------------------------------------------------------- addresses

# Surrogates and U+FFFD mean undecodable bytes: such an "address" could never be replied to.
_BAD_ADDRESS_CHARS = re.compile(r"[\s\x00-\x1f\x7f<>(),;:\"\[\]\\\ud800-\udfff\ufffd]")


def _valid_address(addr: str) -> str | None:
    """Return the lower-cased bare address, or None when it does not look like one."""
    addr = addr.strip()
    if addr.count("@") != 1 or len(addr) > 320 or _BAD_ADDRESS_CHARS.search(addr):
        return None
    local, _, domain = addr.partition("@")
    if not local or not domain:
        return None
    return addr.lower()


def _address_list(values: Iterable[str]) -> tuple[str, ...]:
    found: list[str] = []
    for _name, addr in getaddresses(list(values)):
        valid = _valid_address(addr)
        if valid and valid not in found:
            found.append(valid)
    return tuple(found)


def _decode_words(raw: str) -> str:
    try:
        return str(make_header(decode_header(raw)))
    except Exception:  # broken encoded-words: keep the raw text rather than fail the mail
        return raw


# --------------------------------------------------------------------------- eml: headers


def _raw_values(msg: Message, name: str) -> list[str]:
    """Header values exactly as stored (unfolded), without the modern policy's parsing."""
    wanted = name.lower()
    return [_one_line(str(value)) for key, value in msg.raw_items() if key.lower() == wanted]


def _header_text(msg: Message, name: str) -> str | None:
    """An unstructured header decoded by the modern policy, or its raw text if that fails."""
    try:
        value = msg.get(name)
        return None if value is None else str(value)
    except Exception:
        raw = _raw_values(msg, name)
        return _decode_words(raw[0]) if raw else None


def _raw_header(msg: Message, name: str) -> str | None:
    raw = _raw_values(msg, name)
    return raw[0] if raw else None


# Address headers deliberately bypass the modern policy: its address parser raises on some
# malformed values and is quadratic (a 64 KB From of "(c)" takes ~40 s), while the legacy
# parseaddr/getaddresses are linear. Encoded-words are only decoded in the display name, after
# the address is extracted, so an encoded "<x@evil>" cannot turn into the address.
def _sender(msg: Message) -> tuple[str, str]:
    values = _raw_values(msg, "From")
    if not values:
        raise UnusableInput("not_email", "message has no From header")
    display, addr = parseaddr(values[0])
    sender = _valid_address(_fix_surrogates(addr))
    if sender is None:
        raise UnusableInput("not_email", "From header has no valid address")
    return sender, _header_value(_decode_words(display))


def _addresses(msg: Message, name: str) -> tuple[str, ...]:
    return _address_list(_fix_surrogates(value) for value in _raw_values(msg, name))


_MSG_ID = re.compile(r"<[^<>\s]*>")


def _msg_id(raw: str | None) -> str | None:
    """First <...> token when there is one (drops comments), else the trimmed raw value."""
    if raw is None:
        return None
    match = _MSG_ID.search(raw)
    value = match.group(0) if match else raw
    return _header_value(value) or None


def _references(raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return ()
    return tuple(_header_value(ref) for ref in _MSG_ID.findall(raw))


def _iso_datetime(value: datetime) -> str:
    # "-0000" dates come back naive; RFC 5322 says they are UTC with unknown local offset.
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def _received_at(raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        return _iso_datetime(parsedate_to_datetime(raw))
    except Exception:  # unparseable or out-of-range dates are common and harmless
        return None


def _content_type(msg: Message) -> str | None:
    try:
        return msg.get_content_type()
    except Exception:  # a triage hint is not worth failing the whole mail over
        return None


def _kept_headers(msg: Message) -> dict[str, str]:
    kept: dict[str, str] = {}
    for name in KEPT_HEADERS:
        if name == "content-type":
            # Only the media type: parameters (boundary, charset) are noise for triage.
            text = _content_type(msg) if _raw_values(msg, name) else None
        else:
            text = _header_text(msg, name)
        if text is not None:
            kept[name] = _header_value(text)
    return kept


# --------------------------------------------------------------------------- eml: pre-checks

_HEADER_LINE = re.compile(rb"(?:From |[\x21-\x39\x3b-\x7e]+[ \t]*:)")
# ESC is legitimate in raw ISO-2022-JP headers, so it does not count towards "binary".
_BINARY_BYTES = bytes(sorted(set(range(0x20)) - {0x09, 0x0A, 0x0D, 0x1B} | {0x7F}))

# The modern policy parses every part's Content-Type/-Disposition with a pure-Python parser
# that costs ~0.1-0.3 ms per token and grows superlinearly with field length. These budgets keep
# a hostile 1 MB file to a few seconds while leaving real mail (a handful of short MIME headers,
# top-level headers of 5-20 KB) untouched.
MAX_HEADER_BLOCK_BYTES = 64 * 1024
MAX_MIME_PARTS = 200
MAX_MIME_FIELD_BYTES = 2 * 1024
MAX_MIME_FIELDS_TOTAL_BYTES = 24 * 1024
_MIME_FIELD = re.compile(
    rb"^content-(type|disposition)[ \t]*:[^\n]*(?:\n[ \t][^\n]*)*", re.IGNORECASE | re.MULTILINE
)


def _normalise_newlines(data: bytes) -> bytes:
    # The feedparser accepts CRLF, bare LF and bare CR as line ends; pre-checks must as well,
    # or bare-CR files would slip past the header-block and MIME budgets.
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def _check_plausible_email(text: bytes) -> None:
    """Reject bytes that are not an RFC 5322 message at all (``text`` has normalised newlines)."""
    if not text.strip():
        raise UnusableInput("not_email", "file is empty")
    end = text.find(b"\n\n", 0, MAX_HEADER_BLOCK_BYTES)
    head = text[: end if end >= 0 else MAX_HEADER_BLOCK_BYTES]
    if b"\x00" in head:
        raise UnusableInput("not_email", "header area contains NUL bytes")
    binary = len(head) - len(head.translate(None, _BINARY_BYTES))
    if binary * 20 > len(head):
        raise UnusableInput("not_email", "header area is mostly binary data")
    if not _HEADER_LINE.match(text):
        raise UnusableInput("not_email", "file does not start with a header line")


def _check_budgets(text: bytes) -> None:
    end = text.find(b"\n\n")
    header_block = end if end >= 0 else len(text)
    if header_block > MAX_HEADER_BLOCK_BYTES:
        raise UnusableInput(
            "oversize", f"header block is over the {MAX_HEADER_BLOCK_BYTES} byte limit"
        )
    parts = total = 0
    for match in _MIME_FIELD.finditer(text):
        size = match.end() - match.start()
        parts += match.group(1).lower() == b"type"
        total += size
        if size > MAX_MIME_FIELD_BYTES:
            raise UnusableInput(
                "oversize", f"a MIME header field is over the {MAX_MIME_FIELD_BYTES} byte limit"
            )
    if parts > MAX_MIME_PARTS:
        raise UnusableInput("oversize", f"message has over {MAX_MIME_PARTS} MIME parts")
    if total > MAX_MIME_FIELDS_TOTAL_BYTES:
        raise UnusableInput(
            "oversize", f"MIME header fields exceed {MAX_MIME_FIELDS_TOTAL_BYTES} bytes in total"
        )


# --------------------------------------------------------------------------- eml: structure

_STRUCTURAL_DEFECTS: tuple[tuple[type, str], ...] = (
    (email.errors.NoBoundaryInMultipartDefect, "multipart message has no usable boundary"),
    (email.errors.StartBoundaryNotFoundDefect, "multipart boundary never appears in the body"),
    (
        email.errors.MultipartInvariantViolationDefect,
        "multipart message has no parseable parts",
    ),
)


def _structural_defect(part: Message) -> str | None:
    for defect in part.defects:
        for kind, reason in _STRUCTURAL_DEFECTS:
            if isinstance(defect, kind):
                return reason
    return None


def _is_attachment(part: Message) -> bool:
    try:
        return part.get_content_disposition() == "attachment"
    except Exception:  # an unparseable disposition is not evidence of an attachment
        return False


def _find_body_part(msg: Message) -> Message | None:
    try:
        body = msg.get_body(preferencelist=("plain", "html"))  # type: ignore[attr-defined]
    except Exception:
        body = None
    if body is not None:
        return body
    # get_body does not look inside message/rfc822 and stops at odd subtypes; fall back to the
    # first inline text part anywhere, plain before html before other text/* types.
    texts = [
        part
        for part in msg.walk()
        if part.get_content_maintype() == "text" and not _is_attachment(part)
    ]
    for subtype in ("plain", "html"):
        for part in texts:
            if part.get_content_subtype() == subtype:
                return part
    return texts[0] if texts else None


def _has_attachments(msg: Message, body: Message) -> bool:
    for part in msg.walk():
        if part is msg or part is body:
            continue
        try:
            if _is_attachment(part) or part.get_filename():
                return True
        except Exception:  # unparseable parameters; judge by content type alone
            pass
        if not part.is_multipart() and part.get_content_maintype() != "text":
            return True
    return False


# --------------------------------------------------------------------------- eml: decoding

# Python codecs that are not MIME charsets; decoding with them would "succeed" with nonsense.
_NON_MIME_CODECS = frozenset(
    {"undefined", "unicode-escape", "raw-unicode-escape", "punycode", "idna"}
)


def _codec_for(charset: str) -> str:
    try:
        codec = codecs.lookup(charset).name
    except (LookupError, ValueError, TypeError):
        codec = ""
    if not codec or codec.replace("_", "-") in _NON_MIME_CODECS:
        raise UnusableInput(
            "undecodable_charset", f"declared charset {_token(charset)!r} is unknown"
        )
    return codec


def _decode_payload(part: Message) -> str:
    """Decode the body part strictly: guessing would hand mojibake to everything downstream."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        payload = b""
    charset = part.get_content_charset()
    codec = _codec_for(charset) if charset else "ascii"
    label = repr(_token(charset)) if charset else "(none declared)"
    if codec == "ascii":
        codec = "utf-8"  # undeclared or ASCII-declared 8-bit bodies are UTF-8 in practice
    try:
        return payload.decode(codec)
    except LookupError:  # a Python codec that is not a text encoding, e.g. charset=base64
        reason = f"declared charset {label} is not a text charset"
    except (UnicodeError, ValueError):
        reason = f"body bytes are invalid in declared charset {label}"
    raise UnusableInput("undecodable_charset", reason)


# --------------------------------------------------------------------------- html to text

_SKIPPED_TAGS = frozenset({"script", "style", "head", "title", "noscript", "template"})
_LAYOUT_TAGS = frozenset(
    {"p", "div", "br", "hr", "pre", "li", "ul", "ol", "table", "tr", "td", "th"}
)
_SECTION_TAGS = frozenset({"blockquote", "section", "article", "header", "footer"})
_BLOCK_TAGS = _LAYOUT_TAGS | _SECTION_TAGS | {"h1", "h2", "h3", "h4", "h5", "h6"}
_UNCLOSED_LT = re.compile(r"<(?![^<>]*>)")
_DECLARATION = re.compile(r"<[!?][^<>]*>")
_SPACES = re.compile(r"[ \t\f\v\xa0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth += 1
        elif tag in _BLOCK_TAGS:
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.chunks.append(data)


def _strip_comments(html: str) -> str:
    # A find() loop instead of a regex: an unclosed "<!--" ends the text, as in browsers, and
    # the scan stays linear no matter how many unclosed comments there are.
    out: list[str] = []
    pos = 0
    while (start := html.find("<!--", pos)) >= 0:
        out.append(html[pos:start])
        end = html.find("-->", start + 4)
        if end < 0:
            return "".join(out)
        out.append(" ")
        pos = end + 3
    out.append(html[pos:])
    return "".join(out)


def _defuse_html(html: str) -> str:
    """Remove the markup html.parser handles in quadratic time (unclosed '<', comments, <!...>).

    Each step is a linear scan, and afterwards every '<' the parser sees has a '>' before the
    next '<', which keeps HTMLParser linear on hostile input (1 MB parses in well under a second).
    """
    html = _strip_comments(html)
    html = _UNCLOSED_LT.sub("&lt;", html)
    return _DECLARATION.sub(" ", html)


def _html_to_text(html: str) -> str:
    parser = _TextExtractor()
    parser.feed(_defuse_html(html))
    parser.close()
    lines = (_SPACES.sub(" ", line).strip() for line in "".join(parser.chunks).splitlines())
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


# --------------------------------------------------------------------------- eml: entry point


def _parse_eml(data: bytes, max_body_chars: int) -> ParsedMessage:
    # Some Windows tools save .eml files with a UTF-8 BOM, which would hide the first header.
    data = data.removeprefix(codecs.BOM_UTF8)
    normalised = _normalise_newlines(data)
    _check_plausible_email(normalised)
    _check_budgets(normalised)
    try:
        msg = email.message_from_bytes(data, policy=email.policy.default)
    except Exception as exc:
        reason = f"MIME structure cannot be parsed ({type(exc).__name__})"
        raise UnusableInput("broken_mime", reason) from exc
    sender, sender_name = _sender(msg)
    defect = _structural_defect(msg)
    if defect:
        raise UnusableInput("broken_mime", defect)
    body_part = _find_body_part(msg)
    if body_part is None:
        nested = next(filter(None, (_structural_defect(part) for part in msg.walk())), None)
        raise UnusableInput("broken_mime", nested or "message has no readable text part")
    text = _decode_payload(body_part)
    if body_part.get_content_subtype() == "html":
        text = _html_to_text(text)
    reply_to = _addresses(msg, "Reply-To")
    return ParsedMessage(
        kind="eml",
        sender=sender,
        sender_name=sender_name,
        to=_addresses(msg, "To"),
        reply_to=reply_to[0] if reply_to else None,
        subject=_header_value(_header_text(msg, "Subject") or ""),
        body=_clean_body(text, max_body_chars),
        message_id=_msg_id(_raw_header(msg, "Message-ID")),
        in_reply_to=_msg_id(_raw_header(msg, "In-Reply-To")),
        references=_references(_raw_header(msg, "References")),
        received_at=_received_at(_raw_header(msg, "Date")),
        headers=_kept_headers(msg),
        has_attachments=_has_attachments(msg, body_part),
    )


# --------------------------------------------------------------------------- json work items


def _invalid(reason: str) -> UnusableInput:
    return UnusableInput("invalid_json_item", reason)


def _load_json_object(data: bytes) -> dict[str, Any]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _invalid("file is not valid UTF-8") from None
    try:
        item = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _invalid(f"file is not valid JSON (line {exc.lineno}, column {exc.colno})") from None
    except (RecursionError, ValueError):  # absurd nesting, or ints beyond the digit limit
        raise _invalid("file is not valid JSON (too deeply nested or too large numbers)") from None
    if not isinstance(item, dict):
        raise _invalid(f"top-level JSON value is {_json_type(item)}, expected an object")
    return item


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


def _required_str(item: dict[str, Any], key: str) -> str:
    if key not in item:
        raise _invalid(f"required field {key!r} is missing")
    value = item[key]
    if not isinstance(value, str):
        raise _invalid(f"field {key!r} must be a string, got {_json_type(value)}")
    return value


def _optional_str(item: dict[str, Any], key: str) -> str | None:
    value = item.get(key)
    if value is not None and not isinstance(value, str):
        raise _invalid(f"field {key!r} must be a string, got {_json_type(value)}")
    return value


def _json_to(item: dict[str, Any]) -> tuple[str, ...]:
    value = item.get("to")
    if value is None:
        return ()
    if isinstance(value, str):
        return _address_list([value])
    if isinstance(value, list) and all(isinstance(entry, str) for entry in value):
        return _address_list(value)
    raise _invalid("field 'to' must be a string or a list of strings")


def _json_received_at(raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        return _iso_datetime(datetime.fromisoformat(raw.strip()))
    except ValueError:  # same leniency as an unparseable Date header
        return None


def _parse_json(data: bytes, max_body_chars: int) -> ParsedMessage:
    item = _load_json_object(data)
    raw_from = _required_str(item, "from")
    # parseaddr treats CR/LF as folding whitespace, so reject them before it can hide them.
    display, addr = parseaddr(raw_from)
    sender = _valid_address(addr)
    if sender is None or _LINE_BREAKING.search(raw_from):
        raise _invalid("field 'from' is not a valid email address")
    subject = _required_str(item, "subject")
    body = _required_str(item, "body")
    message_id = _optional_str(item, "message_id")
    received_at = _optional_str(item, "received_at")
    return ParsedMessage(
        kind="json",
        sender=sender,
        sender_name=_header_value(display),
        to=_json_to(item),
        reply_to=None,
        subject=_header_value(subject),
        body=_clean_body(body, max_body_chars),
        message_id=_msg_id(message_id),
        in_reply_to=None,
        references=(),
        received_at=_json_received_at(received_at),
        headers={},
        has_attachments=False,
    )
