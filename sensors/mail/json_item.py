"""JSON work items to ``ParsedMessage``.

The contract (`JsonWorkItem`, a pydantic model) is ``from`` (an address), ``body`` and
optionally ``subject``, ``to``, ``message_id`` and ``received_at``. Tools that write such
files use other names too, so common aliases map to the contract; any other field is kept as
extra data, never thrown away. A file that breaks the contract is refused with the model's
first error, as one line that names the field and never quotes its value.
"""

from __future__ import annotations

import json
from datetime import datetime
from email.utils import parseaddr
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from sensors.mail.charset import decode_body
from sensors.mail.eml import msg_id
from sensors.mail.model import CHARSET_FALLBACK, ParsedMessage, UnusableInput
from sensors.mail.text import (
    LINE_BREAKING,
    address_list,
    clean_body,
    header_value,
    iso_datetime,
    valid_address,
)

ALIASES = {"from": ("sender", "email"), "body": ("message", "text")}
CONTRACT = ("from", "subject", "body", "to", "message_id", "received_at")


def _listed(value: object) -> object:
    return [value] if isinstance(value, str) else value


class JsonWorkItem(BaseModel):
    """One work item as JSON (aliases already resolved); other fields are kept as extra."""

    model_config = ConfigDict(strict=True, extra="allow", populate_by_name=True, frozen=True)

    sender: str | None = Field(default=None, alias="from")
    """The address (with a display name, if any) a reply goes to."""
    body: str | None
    """The message text."""
    subject: str | None = None
    to: Annotated[list[str] | None, BeforeValidator(_listed)] = None
    """The address or addresses (a string or a list of strings) the message was sent to."""
    message_id: str | None = None
    received_at: str | None = None
    """ISO 8601; unparseable is treated as unknown, like a bad Date header."""


def first_error(exc: ValidationError) -> str:
    """The first problem as one line: where, and what (pydantic's message never the value)."""
    error = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in error["loc"]) or "(top)"
    if error["type"] == "missing" and where in ALIASES:
        aliases = ", ".join(repr(a) for a in ALIASES[where])
        return f"required field {where!r} is missing (or {aliases})"
    return f"field {where!r}: {' '.join(error['msg'].split())}"


def validate_item(fields: dict[str, Any]) -> JsonWorkItem:
    """The contract fields, checked; UnusableInput with the first error otherwise."""
    try:
        return JsonWorkItem.model_validate(fields)
    except ValidationError as exc:
        raise _invalid(first_error(exc)) from None


def _invalid(reason: str) -> UnusableInput:
    return UnusableInput("invalid_json_item", reason)


def load_json_object(data: bytes) -> tuple[dict[str, Any], str | None]:
    """The object, and the charset really used when the file was not UTF-8."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    if not data.strip():
        raise _invalid("file is empty")
    try:
        decoded = decode_body(data, "utf-8")
    except UnusableInput:
        raise _invalid("file is not text in UTF-8 or any known charset") from None
    try:
        item = json.loads(decoded.text)
    except json.JSONDecodeError as exc:
        raise _invalid(f"file is not valid JSON (line {exc.lineno}, column {exc.colno})") from None
    except (RecursionError, ValueError):  # absurd nesting, or ints beyond the digit limit
        raise _invalid("file is not valid JSON (too deeply nested or too large numbers)") from None
    if not isinstance(item, dict):
        raise _invalid(f"top-level JSON value is {_json_type(item)}, expected an object")
    return item, decoded.fallback


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


def canonical(item: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Contract fields (aliases resolved; the contract's own name wins) and everything else."""
    fields = {key: item[key] for key in CONTRACT if key in item}
    for key, aliases in ALIASES.items():
        for alias in aliases:
            if key not in fields and isinstance(item.get(alias), str):
                fields[key] = item[alias]
    extra = {key: value for key, value in item.items() if key not in CONTRACT}
    for key, aliases in ALIASES.items():
        for alias in aliases:
            if extra.get(alias) is fields.get(key) and alias in extra:
                del extra[alias]  # it became the contract field; keeping it twice helps no one
    return fields, extra


def _to(value: list[str] | None) -> tuple[str, ...]:
    return address_list(value) if value else ()


def _received_at(raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        return iso_datetime(datetime.fromisoformat(raw.strip()))
    except ValueError:  # same leniency as an unparseable Date header
        return None


def _sender(raw: str | None) -> tuple[str | None, str]:
    if raw is None:
        return None, ""
    # parseaddr treats CR/LF as folding whitespace, so refuse them before it can hide them.
    if LINE_BREAKING.search(raw):
        return None, ""
    display, addr = parseaddr(raw)
    return valid_address(addr), header_value(display)


def parse_json(data: bytes, *, max_text_bytes: int) -> ParsedMessage:
    if len(data) > max_text_bytes:
        raise UnusableInput("oversize", f"file is {len(data)} bytes, limit is {max_text_bytes}")
    item, fallback = load_json_object(data)
    fields, extra = canonical(item)
    return parsed_item(validate_item(fields), extra, fallback)


def parsed_item(
    valid: JsonWorkItem, extra: dict[str, Any], fallback: str | None = None
) -> ParsedMessage:
    """A checked work item as the message intake registers (`extra`: the fields kept)."""
    sender, sender_name = _sender(valid.sender)
    # The store keeps extra data as JSON; a value it could not write back is not kept.
    json.dumps(extra)
    notes: dict[str, Any] = {"fields": extra} if extra else {}
    if fallback:
        notes["charset"] = {"declared": "utf-8", "read_as": fallback}
    return ParsedMessage(
        kind="json",
        sender=sender,
        sender_name=sender_name,
        to=_to(valid.to),
        reply_to=None,
        subject=header_value(valid.subject or ""),
        body=clean_body(valid.body or ""),
        message_id=msg_id(valid.message_id),
        in_reply_to=None,
        references=(),
        received_at=_received_at(valid.received_at),
        headers={},
        has_attachments=False,
        flags=(CHARSET_FALLBACK,) if fallback else (),
        extra=notes,
    )
