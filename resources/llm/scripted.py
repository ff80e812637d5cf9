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

DRAFT = re.compile(r"<<<DRAFT_REPLY\n(.*?)\nDRAFT_REPLY>>>", re.S)

Script = Callable[[str], dict[str, Any]]
"""Answers from the email text alone (what most agents are asked about)."""
RequestScript = Callable[[dict[str, Any]], dict[str, Any]]
"""Answers from the whole request (the reviewer reads a draft; a repair reads feedback)."""


class Outage(Exception):
    """Raised by a script to answer 503, as a model server that is down would."""


def _email_text(body: dict[str, Any]) -> str:
    users = [str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == "user"]
    for content in reversed(users):
        found = UNTRUSTED.search(content)
        if found:
            return found.group(1)
    return users[-1] if users else ""


def draft_under_review(body: dict[str, Any]) -> str:
    for message in body.get("messages", []):
        found = DRAFT.search(str(message.get("content", "")))
        if found:
            return found.group(1)
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


def script_review(body: dict[str, Any]) -> dict[str, Any]:
    """A lenient reviewer: passes every draft that reads like a reply."""
    draft = draft_under_review(body)
    if draft.strip():
        return {"verdict": "pass", "reasons": [], "feedback": ""}
    return {"verdict": "revise", "reasons": ["unanswered"], "feedback": "Write a reply."}


RECORDS = re.compile(r"<<<UNTRUSTED_RECORDS\n(.*?)\nUNTRUSTED_RECORDS>>>", re.S)
RECORD = re.compile(r"^(\d+)\. \[\S* (\w+)\] (.*)$")
_TOPICS = (
    ("contact_channel", ("email", "e-mail", "phone", "call", "whatsapp", "slack", "sms")),
    ("meeting_time", ("morning", "afternoon", "evening", "monday", "friday", "meeting")),
    ("language", ("english", "german", "french", "spanish", "portuguese", "language")),
    ("invoicing", ("invoice", "receipt", "vat", "purchase order")),
    ("billing", ("charge", "payment", "card", "refund", "bank")),
    ("account", ("login", "log in", "password", "account", "admin")),
    ("delivery", ("deliver", "launch", "shipping")),
)
_PREFERS = re.compile(r"\b(prefer|please always|please only|from now on|rather)\b", re.I)
_PROMISE = re.compile(r"\b(I will|I'll|we will|we'll)\b", re.I)
_COMPANY = re.compile(r"\b(our team|our company|all of us|everyone at)\b", re.I)


def _topic(sentence: str) -> str:
    lowered = sentence.lower()
    return next((t for t, words in _TOPICS if any(w in lowered for w in words)), "other")


def script_archivist(body: dict[str, Any]) -> dict[str, Any]:
    """Facts by rule from the numbered records: their preferences and questions, our
    promises. Deterministic, so re-runs and their tests see the same facts."""
    users = [str(m.get("content", "")) for m in body.get("messages", []) if m["role"] == "user"]
    found = RECORDS.search(users[-1] if users else "")
    facts: list[dict[str, Any]] = []
    for line in found.group(1).splitlines() if found else []:
        record = RECORD.match(line)
        if record is None:
            continue
        number, kind, text = int(record.group(1)), record.group(2), record.group(3)
        text = re.sub(r"^They wrote \(subject: [^)]*\):\s*", "", text)
        for sentence in re.split(r"(?<=[.!?])\s+", text):
            sentence = sentence.strip()[:200]
            if kind == "item" and _PREFERS.search(sentence):
                fact_kind = "preference"
            elif kind == "item" and sentence.endswith("?"):
                fact_kind = "open_question"
            elif kind == "outcome" and _PROMISE.search(sentence):
                fact_kind = "commitment"
            else:
                continue
            about = "company" if _COMPANY.search(sentence) else "contact"
            facts.append(
                {
                    "kind": fact_kind,
                    "topic": _topic(sentence),
                    "about": about,
                    "project": "",
                    "statement": sentence,
                    "source": number,
                }
            )
    return {"facts": facts[:8]}


def script_proposal_brief(body: dict[str, Any]) -> dict[str, Any]:
    """The proposals workflow's context agent: who asks, and what for (the subject)."""
    text = _email_text(body)
    return {
        "client_name": _field(text, "From-Name")[:80],
        "company": "",
        "needs": [(_field(text, "Subject") or "a website")[:80]],
        "budget_hint": "",
        "deadline_hint": "",
    }


def script_proposal_plan(body: dict[str, Any]) -> dict[str, Any]:
    """A bounded plan of four steps, one of each kind, for any lead."""
    steps = [
        ("question", "Ask what the site must do first.", "The proposal asks a question."),
        ("scope", "Designed pages and a booking shop.", "The scope lists pages and shop."),
        ("timeline", "A start date and a duration.", "The proposal states when work starts."),
        ("price_basis", "Priced per unit from the rate card.", "Every line has a unit price."),
    ]
    return {
        "steps": [
            {"kind": kind, "description": what, "success_criterion": criterion}
            for kind, what, criterion in steps
        ]
    }


def script_proposal_draft(body: dict[str, Any]) -> dict[str, Any]:
    """Services by the sample catalogue's codes (code prices them; no amount here)."""
    return {
        "title": "A new website with online booking",
        "summary": "Designed pages and online booking, built on what you have today.",
        "scope": [
            {"heading": "Pages", "text": "Home, services, about, prices, contact and blog."},
            {"heading": "Booking", "text": "Online booking with payment."},
        ],
        "lines": [
            {"code": "DISC", "quantity": 1},
            {"code": "WEB-PAGE", "quantity": 6},
            {"code": "SHOP", "quantity": 1},
        ],
        "start_in_days": 14,
        "duration_weeks": 6,
        "cover_mail": "Hello,\n\nThank you for your enquiry. Please find our proposal "
        "attached; I am happy to walk you through it.",
    }


def script_proposal_verdicts(body: dict[str, Any]) -> dict[str, Any]:
    """Every step of the plan in the prompt met (the verifier's code checks still run)."""
    user = str(body["messages"][-1]["content"])
    steps = json.loads(user.split("The plan:\n", 1)[1].split("\n\n<<<PROPOSAL", 1)[0])
    return {
        "verdicts": [
            {"step": s["step"], "met": True, "evidence": "stated in the proposal"} for s in steps
        ]
    }


def script_proposal_answer(body: dict[str, Any]) -> dict[str, Any]:
    """How the client answered, read from a few words (the local model reads it for real)."""
    text = _email_text(body).lower()
    if re.search(r"\b(accept|go ahead|let'?s start)", text):
        return {"outcome": "accepted", "changes": [], "summary": "The client accepts."}
    if re.search(r"\b(decline|not go ahead|another agency)", text):
        return {"outcome": "declined", "changes": [], "summary": "The client declines."}
    if re.search(r"\b(change|instead|without|drop)\b", text):
        return {
            "outcome": "revision_requested",
            "changes": ["Change the proposal as the client asks."],
            "summary": "The client asks for changes.",
        }
    return {"outcome": "question", "changes": [], "summary": "The client has a question."}


DEFAULT_SCRIPTS: dict[str, Script] = {
    "triage": script_triage,
    "reply_draft": script_reply,
}
DEFAULT_REQUEST_SCRIPTS: dict[str, RequestScript] = {
    "review": script_review,
    "archivist": script_archivist,
    "proposal_context": script_proposal_brief,
    "proposal_plan": script_proposal_plan,
    "proposal_draft": script_proposal_draft,
    "proposal_verdict": script_proposal_verdicts,
    "proposal_answer": script_proposal_answer,
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

    down = False
    """A scripted outage: every request (health probes too) gets 503 while it is set."""

    def __init__(
        self,
        scripts: dict[str, Script] | None = None,
        request_scripts: dict[str, RequestScript] | None = None,
    ) -> None:
        self.scripts = {**DEFAULT_SCRIPTS, **(scripts or {})}
        self.request_scripts = {**DEFAULT_REQUEST_SCRIPTS, **(request_scripts or {})}
        for name in self.scripts:  # an explicit text script wins over a default request one
            if name in (scripts or {}):
                self.request_scripts.pop(name, None)
        self.calls = 0

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        schema = (body.get("response_format") or {}).get("json_schema", {}).get("name", "")
        if schema in self.request_scripts:
            return completion(body, json.dumps(self.request_scripts[schema](body)))
        script = self.scripts.get(schema)
        if script is None:
            raise KeyError(f"the scripted model has no script for schema {schema!r}")
        return completion(body, json.dumps(script(_email_text(body))))

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        if self.down:
            return httpx2.Response(503, json={"error": {"message": "scripted outage"}})
        if request.method == "GET":  # GET /v1/models: a health probe, not a served call
            return httpx2.Response(200, json={"object": "list", "data": [{"id": "scripted-v1"}]})
        self.calls += 1
        body = json.loads(request.content)
        try:
            return httpx2.Response(200, json=self.answer(body))
        except Outage as exc:
            return httpx2.Response(503, json={"error": {"message": str(exc)}})
        except KeyError as exc:
            return httpx2.Response(400, json={"error": {"message": str(exc)}})

    def transport(self) -> httpx2.AsyncBaseTransport:
        return httpx2.MockTransport(self.handle)
