"""The triage suite: what every triage row must satisfy before it may route an item."""

import re
from typing import Any

from ops_assets.agents.prompting import CLOSE, OPEN
from ops_assets.governance.injection import PATTERNS
from ops_assets.quality.suites import Rule, inline_pattern
from resources.settings.config import CATEGORIES

SUITE = "triage"


def rules() -> list[Rule]:
    return [
        Rule("category_unknown", "category", one_of=CATEGORIES),
        Rule("summary_missing", "summary", not_matching=r"^\s*$"),
        # A summary that repeats the mail's instructions or our markers carries an injection
        # into every later prompt that quotes it.
        Rule(
            "summary_injection",
            "summary",
            not_matching=inline_pattern(PATTERNS["reveal_prompt"])
            + "|"
            + re.escape(OPEN)
            + "|"
            + re.escape(CLOSE),
        ),
        Rule("urgency_unknown", "urgency", one_of=("low", "normal", "high")),
    ]


def row(item_id: str, output: dict[str, Any]) -> dict[str, Any]:
    return {
        "item_id": item_id,
        "category": output["category"],
        "summary": output["summary"],
        "urgency": output["urgency"],
    }
