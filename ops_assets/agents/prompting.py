"""Shared prompt plumbing: content-hash versions and the untrusted-content envelope."""

import hashlib
import json
from typing import Any

from pydantic import BaseModel

from ops_assets.agents.quoting import reply_text_only

OPEN, CLOSE = "<<<UNTRUSTED_EMAIL", "UNTRUSTED_EMAIL>>>"
NOTHING_ON_RECORD = "(nothing on record)"


def prompt_version(name: str, *parts: str, schema: type[BaseModel]) -> str:
    """`<name>-<hash12>` of the prompt text and output schema: any change is a new version."""
    digest = hashlib.sha256()
    for part in (*parts, json.dumps(schema.model_json_schema(), sort_keys=True)):
        digest.update(part.encode("utf-8"))
    return f"{name}-{digest.hexdigest()[:12]}"


def combined_version(name: str, *versions: str) -> str:
    """One version for an asset that runs several prompts: any of them changing changes it."""
    digest = hashlib.sha256("\n".join(versions).encode("utf-8")).hexdigest()[:12]
    return f"{name}-{digest}"


def untrusted_email(
    item: dict[str, Any], max_body_chars: int = 6000, *, derived: dict[str, str] | None = None
) -> str:
    """The item as data between markers the text itself cannot forge, its body without the
    quoted thread and the signature (agents/quoting.py) and cut to fit a small model's context
    (the full text stays in the store).

    `derived` holds what a model wrote about the mail (the triage summary): text the mail can
    steer, so it sits inside the same envelope, one line each, never beside the instructions."""

    def clean(value: object) -> str:
        return str(value or "").replace(OPEN, "[marker]").replace(CLOSE, "[marker]")

    notes = [f"{name}: {' '.join(clean(v).split())}" for name, v in (derived or {}).items()]
    return "\n".join(
        [
            OPEN,
            f"From-Name: {clean(item.get('sender_name'))}",
            f"From: {clean(item.get('sender'))}",
            f"Subject: {clean(item.get('subject'))}",
            *notes,
            "",
            _cut(clean(reply_text_only(str(item.get("body") or ""))), max_body_chars),
            CLOSE,
        ]
    )


def triage_notes(triage: dict[str, Any]) -> dict[str, str]:
    """What triage's model wrote about a mail, for the envelope of later prompts."""
    return {"Model-Summary (written by a model from this email)": str(triage.get("summary") or "")}


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n[... {len(text) - limit} more characters not shown]"
