"""Content addressing of model calls: the same request always has the same key."""

import hashlib
import json
from typing import Any

# The request fields that decide the answer. Anything else (timeouts, headers) does not.
KEY_FIELDS = ("model", "messages", "response_format", "temperature", "max_tokens", "seed")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_hash(body: dict[str, Any]) -> str:
    key = {field: body.get(field) for field in KEY_FIELDS}
    return hashlib.sha256(canonical_json(key).encode("utf-8")).hexdigest()


def text_hash(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()
