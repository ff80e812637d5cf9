"""Body bytes to text: the declared charset when it is right, otherwise a detected one.

Real mail often lies about its charset (Latin-1 bytes labelled UTF-8, a made-up label, none at
all), so a wrong or unknown label is decoded with charset-normalizer and the caller flags the
item; only bytes no charset can read as text are quarantined.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from sensors.mail.model import UnusableInput
from sensors.mail.text import token

# Python codecs that are not MIME charsets; decoding with them would "succeed" with nonsense.
_NON_MIME_CODECS = frozenset(
    {"undefined", "unicode-escape", "raw-unicode-escape", "punycode", "idna"}
)
# Detection ties between these on short Western text; cp1252 is what such mail really is.
_PREFERRED = ("utf_8", "cp1252")
# A "text" with a larger share of control characters than this is binary data.
_MAX_UNREADABLE = 0.1


@dataclass(frozen=True)
class Decoded:
    text: str
    fallback: str | None  # the charset really used, when the declared one was wrong


def _codec_for(charset: str) -> str | None:
    try:
        codec = codecs.lookup(charset).name
    except (LookupError, ValueError, TypeError):
        return None
    if codec.replace("_", "-") in _NON_MIME_CODECS:
        return None
    return codec


def _strict(payload: bytes, codec: str) -> str | None:
    try:
        return payload.decode(codec)
    except (LookupError, UnicodeError, ValueError):  # LookupError: e.g. charset=base64
        return None


_HIGH_BYTES = bytes(range(0x80, 0x100))


def _detected(payload: bytes) -> tuple[str, str] | None:
    # Mostly-ASCII text with a few 8-bit letters is Western mail in cp1252 (or Latin-1, its
    # subset) far more often than anything a detector guesses from a handful of bytes.
    ascii_bytes = len(payload.translate(None, _HIGH_BYTES))
    mostly_ascii = b"\x00" not in payload and ascii_bytes >= 0.8 * len(payload)
    if mostly_ascii and (text := _strict(payload, "cp1252")) is not None:
        return text, "cp1252"
    from charset_normalizer import from_bytes  # imported late: only wrong labels need it

    matches = list(from_bytes(payload))
    if not matches:
        return None
    least = min(m.chaos for m in matches)
    calm = [m for m in matches if m.chaos == least]
    preferred = [m for name in _PREFERRED for m in calm if m.encoding == name]
    best = (preferred or calm)[0]
    return str(best), best.encoding


def decode_body(payload: bytes, charset: str | None) -> Decoded:
    """Decode strictly in the declared charset (undeclared: UTF-8), else fall back."""
    codec = _codec_for(charset) if charset else "utf-8"
    if codec == "ascii":
        codec = "utf-8"  # ASCII-declared 8-bit bodies are UTF-8 in practice
    if codec is not None and (text := _strict(payload, codec)) is not None:
        return Decoded(text, None)
    if payload.isascii():
        return Decoded(payload.decode("ascii"), None)  # every text charset reads it alike
    if (found := _detected(payload)) is not None:
        return Decoded(*found)
    # Too little text for a detector to be sure: the Western single-byte charsets read any
    # 8-bit text; what they turn into control characters was never text.
    for last_resort in ("cp1252", "latin-1"):
        text = _strict(payload, last_resort) or ""
        if text and _looks_like_text(text):
            return Decoded(text, last_resort)
    label = repr(token(charset)) if charset else "(none declared)"
    raise UnusableInput(
        "undecodable_charset", f"body bytes are not text in {label} or any known charset"
    )


def _looks_like_text(text: str) -> bool:
    unprintable = sum(1 for c in text if not c.isprintable() and c not in "\r\n\t")
    return unprintable <= _MAX_UNREADABLE * len(text)
