"""The archivist's suite: what every drafted fact must satisfy before it joins memory.

A fact is quoted into later prompts as context, so it must be short, cite a record that
exists, carry no secret and no instructions (an injected "ignore previous instructions" must
not become a remembered "fact")."""

import re
from typing import Any

from ops_assets.agents.prompting import CLOSE as MAIL_CLOSE
from ops_assets.agents.prompting import OPEN as MAIL_OPEN
from ops_assets.defs.archivist.prompt import CLOSE, OPEN
from ops_assets.governance.injection import PATTERNS
from ops_assets.governance.secrets import find_secrets
from ops_assets.quality.suites import Rule, any_of

SUITE = "memory_facts"


# Mail that tries to plant these in memory would reach every later prompt about the sender.
POISON = (
    "reveal_prompt",
    "reveal_secrets",
    "bank_details_change",
    "send_elsewhere",
    "customer_data",
)


def rules() -> list[Rule]:
    markers = "|".join(re.escape(m) for m in (OPEN, CLOSE, MAIL_OPEN, MAIL_CLOSE))
    poison = any_of([PATTERNS[name] for name in POISON])
    return [
        Rule("statement_missing", "statement", not_matching=r"^\s*$"),
        Rule("statement_too_long", "statement", max_length=200),
        Rule("source_unknown", "source_known", one_of=(True,)),
        Rule("secret", "secrets_found", one_of=(False,)),
        Rule(
            "statement_injection",
            "statement",
            not_matching=poison + "|" + markers,
        ),
    ]


def row(draft_id: str, fact: dict[str, Any], records: int) -> dict[str, Any]:
    return {
        "item_id": draft_id,
        "statement": fact["statement"].strip(),
        "source_known": 1 <= int(fact["source"]) <= records,
        "secrets_found": bool(find_secrets(fact["statement"])),
    }
