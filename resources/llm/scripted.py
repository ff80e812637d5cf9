"""The scripted model: an explicit, deterministic test double behind the real `openai` client.

It answers at the HTTP layer (an httpx MockTransport), so everything above it — the client, the
ledger, schema validation, cost accounting — runs exactly as against a real server. It is chosen
only on purpose (`--llm scripted`); nothing falls back to it.
"""

import json
import re
from collections.abc import Callable
from typing import Any

import httpx2

from resources.llm.hashing import request_hash

UNTRUSTED = re.compile(r"<<<UNTRUSTED_EMAIL\n(.*?)\nUNTRUSTED_EMAIL>>>", re.S)

_CATEGORY_WORDS = (
    (
        "billing",
        (
            "invoice",
            "refund",
            "charge",
            "charged",
            "payment",
            "billing",
            "receipt",
            "vat",
            "bank details",
        ),
    ),
    (
        "sales",
        (
            "quote",
            "pricing",
            "proposal",
            "estimate",
            "budget for",
            "hire you",
            "new project",
            "rates",
        ),
    ),
    (
        "support",
        (
            "error",
            "bug",
            "broken",
            "can't",
            "cannot",
            "unable",
            "help",
            "how do i",
            "login",
            "log in",
            "not working",
            "issue",
            "password",
            "update",
        ),
    ),
    (
        "spam",
        (
            "winner",
            "you have won",
            "crypto",
            "bitcoin",
            "viagra",
            "seo services",
            "guaranteed ranking",
        ),
    ),
)

Script = Callable[[str, dict[str, Any]], dict[str, Any]]


def _email_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "user":
            found = UNTRUSTED.search(str(message.get("content", "")))
            return found.group(1) if found else str(message.get("content", ""))
    return ""


def _field(text: str, name: str) -> str:
    match = re.search(rf"^{name}: (.*)$", text, re.M)
    return match.group(1).strip() if match else ""


def script_triage(text: str) -> dict[str, Any]:
    subject = _field(text, "Subject") or "(no subject)"
    # Keyword votes, the subject counting double; the first category wins a tie.
    lowered, subject_lowered = text.lower(), subject.lower()
    votes = {
        candidate: sum(lowered.count(w) + 2 * subject_lowered.count(w) for w in words)
        for candidate, words in _CATEGORY_WORDS
    }
    best = max(votes.values())
    category = next(c for c, v in votes.items() if v == best) if best else "other"
    amount = re.search(r"(?:€|\$|£|EUR|USD)\s?(\d[\d,.]*)", text)
    return {
        "category": category,
        "summary": f"Message about: {subject}"[:200],
        "customer_name": _field(text, "From-Name")[:80],
        "company": "",
        "amount": amount.group(1) if amount else "",
        "question": subject[:200],
    }


def script_reply(text: str) -> dict[str, Any]:
    name = (_field(text, "From-Name") or "there").split()[0]
    subject = _field(text, "Subject") or "your message"
    return {
        "body": (
            f'Hi {name},\n\nThank you for getting in touch about "{subject[:120]}". '
            "I have read your message and I am looking into it now. I will follow up with "
            "the details as soon as I have checked everything on my side."
        )
    }


DEFAULT_SCRIPTS: dict[str, Callable[[str], dict[str, Any]]] = {
    "triage": script_triage,
    "reply_draft": script_reply,
}


def completion(body: dict[str, Any], content: str) -> dict[str, Any]:
    prompt_chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
    prompt_tokens, completion_tokens = max(1, prompt_chars // 4), max(1, len(content) // 4)
    return {
        "id": "chatcmpl-" + request_hash(body)[:24],
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", "scripted-v1"),
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "logprobs": None,
                "message": {"role": "assistant", "content": content},
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class ScriptedModel:
    """Deterministic answers keyed by the response schema's name; counts the calls it serves."""

    def __init__(self, scripts: dict[str, Callable[[str], dict[str, Any]]] | None = None) -> None:
        self.scripts = {**DEFAULT_SCRIPTS, **(scripts or {})}
        self.calls = 0

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        schema = (body.get("response_format") or {}).get("json_schema", {}).get("name", "")
        script = self.scripts.get(schema)
        if script is None:
            raise KeyError(f"the scripted model has no script for schema {schema!r}")
        return completion(body, json.dumps(script(_email_text(body))))

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        self.calls += 1
        body = json.loads(request.content)
        try:
            return httpx2.Response(200, json=self.answer(body))
        except KeyError as exc:
            return httpx2.Response(400, json={"error": {"message": str(exc)}})

    def transport(self) -> httpx2.AsyncBaseTransport:
        return httpx2.MockTransport(self.handle)
