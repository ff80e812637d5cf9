"""RFC 5322 files (``.eml`` and Maildir messages) to ``ParsedMessage``.

The stdlib is tolerant but not hardened, so three things are guarded: the modern header
parser (``email.policy.default``) raises ``IndexError``/``AttributeError``/``TypeError`` on some
malformed headers and is quadratic on long ones, so address and id headers are read raw and
MIME header sizes are budgeted before parsing; ``message_from_bytes`` itself can raise on a bad
Content-Type; and HTML goes through ``sensors.mail.html``, which defuses it first.
"""

from __future__ import annotations

import codecs
import email
import email.errors
import email.policy
import re
from email.message import Message
from email.utils import parseaddr, parsedate_to_datetime

from sensors.mail.charset import decode_body
from sensors.mail.html import visible_text
from sensors.mail.model import (
    CHARSET_FALLBACK,
    HIDDEN_TEXT,
    Attachment,
    ParsedMessage,
    UnusableInput,
)
from sensors.mail.text import (
    address_list,
    clean_body,
    decode_words,
    fix_surrogates,
    header_value,
    iso_datetime,
    one_line,
    token,
    valid_address,
)

# Headers downstream triage and policy need (auto-replies, bulk mail, bounces, spam, the
# receiving server's authentication verdict); everything else is dropped so that a
# ParsedMessage stays small and predictable.
KEPT_HEADERS = (
    "auto-submitted",
    "precedence",
    "list-id",
    "list-unsubscribe",
    "x-auto-response-suppress",
    "content-type",
    "return-path",
    "x-spam-flag",
    "authentication-results",
)

# --------------------------------------------------------------------------- headers


def _raw_values(msg: Message, name: str) -> list[str]:
    """Header values exactly as stored (unfolded), without the modern policy's parsing."""
    wanted = name.lower()
    return [one_line(str(value)) for key, value in msg.raw_items() if key.lower() == wanted]


def _header_text(msg: Message, name: str) -> str | None:
    """An unstructured header decoded by the modern policy, or its raw text if that fails."""
    try:
        value = msg.get(name)
        return None if value is None else str(value)
    except Exception:
        raw = _raw_values(msg, name)
        return decode_words(raw[0]) if raw else None


def _raw_header(msg: Message, name: str) -> str | None:
    raw = _raw_values(msg, name)
    return raw[0] if raw else None


# Address headers deliberately bypass the modern policy: its address parser raises on some
# malformed values and is quadratic (a 64 KB From of "(c)" takes ~40 s), while the legacy
# parseaddr/getaddresses are linear. Encoded-words are only decoded in the display name, after
# the address is extracted, so an encoded "<x@evil>" cannot turn into the address.
def _sender(msg: Message) -> tuple[str | None, str]:
    """The From address (None when there is none anyone could answer) and display name."""
    values = _raw_values(msg, "From")
    if not values:
        return None, ""
    display, addr = parseaddr(values[0])
    return valid_address(fix_surrogates(addr)), header_value(decode_words(display))


def _addresses(msg: Message, name: str) -> tuple[str, ...]:
    return address_list(fix_surrogates(value) for value in _raw_values(msg, name))


_MSG_ID = re.compile(r"<[^<>\s]*>")


def msg_id(raw: str | None) -> str | None:
    """First <...> token when there is one (drops comments), else the trimmed raw value."""
    if raw is None:
        return None
    match = _MSG_ID.search(raw)
    value = match.group(0) if match else raw
    return header_value(value) or None


def _references(raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return ()
    return tuple(header_value(ref) for ref in _MSG_ID.findall(raw))


def _received_at(raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        return iso_datetime(parsedate_to_datetime(raw))
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
            kept[name] = header_value(text)
    return kept


# --------------------------------------------------------------------------- pre-checks

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


# --------------------------------------------------------------------------- structure

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


def _filename(part: Message) -> str | None:
    try:
        return part.get_filename()
    except Exception:  # unparseable parameters; judge by content type alone
        return None


def _attachments(msg: Message, body: Message) -> tuple[Attachment, ...]:
    """Every leaf part but the body and its alternatives: files, images, anything not text."""
    found = []
    for part in msg.walk():
        if part is msg or part is body or part.is_multipart():
            continue
        name = _filename(part)
        if not (_is_attachment(part) or name or part.get_content_maintype() != "text"):
            continue
        payload = part.get_payload(decode=True)
        found.append(
            Attachment(
                name=header_value(name or ""),
                content_type=part.get_content_type(),
                data=payload if isinstance(payload, bytes) else b"",
            )
        )
    return tuple(found)


# --------------------------------------------------------------------------- entry point


def parse_eml(data: bytes, *, max_text_bytes: int) -> ParsedMessage:
    """``max_text_bytes`` bounds the body text; attachments do not count against it."""
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
    payload = body_part.get_payload(decode=True)
    payload = payload if isinstance(payload, bytes) else b""
    if len(payload) > max_text_bytes:
        raise UnusableInput(
            "oversize", f"the text is {len(payload)} bytes, limit is {max_text_bytes}"
        )
    charset = body_part.get_content_charset()
    decoded = decode_body(payload, charset)
    flags, extra = [], {}
    if decoded.fallback:
        flags.append(CHARSET_FALLBACK)
        extra["charset"] = {"declared": token(charset or "(none)"), "read_as": decoded.fallback}
    text = decoded.text
    if body_part.get_content_subtype() == "html":
        text, hidden = visible_text(text)
        if hidden:
            flags.append(HIDDEN_TEXT)
    reply_to = _addresses(msg, "Reply-To")
    attachments = _attachments(msg, body_part)
    return ParsedMessage(
        kind="eml",
        sender=sender,
        sender_name=sender_name,
        to=_addresses(msg, "To"),
        reply_to=reply_to[0] if reply_to else None,
        subject=header_value(_header_text(msg, "Subject") or ""),
        body=clean_body(text),
        message_id=msg_id(_raw_header(msg, "Message-ID")),
        in_reply_to=msg_id(_raw_header(msg, "In-Reply-To")),
        references=_references(_raw_header(msg, "References")),
        received_at=_received_at(_raw_header(msg, "Date")),
        headers=_kept_headers(msg),
        has_attachments=bool(attachments),
        attachments=attachments,
        flags=tuple(flags),
        extra=extra,
    )
