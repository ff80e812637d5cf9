"""The reply_draft suite: the Great Expectations rules every draft must pass to go on.

The patterns are the ones in `validation.py` (which checks an operator's edited reply without
loading GE), so a batch and an edit are judged by the same rules, in the same order.
"""

from typing import Any

from ops_assets.defs.reply_draft.validation import PATTERNS
from ops_assets.governance.secrets import find_secrets
from ops_assets.quality.suites import Rule, inline_pattern
from resources.settings.config import Quality

SUITE = "reply_draft"


def rules(quality: Quality) -> list[Rule]:
    # Order matters: a draft's first failing rule is the reason the owner sees.
    return [
        Rule("empty", "body", not_matching=r"^\s*$"),
        Rule("too_short", "body", min_length=quality.min_reply_chars),
        Rule("too_long", "body", max_length=quality.max_reply_chars),
        *(
            Rule(reason, "body", not_matching=inline_pattern(pattern))
            for reason, pattern in PATTERNS.items()
            if reason in ("placeholder", "subject_line")
        ),
        Rule("secret", "secrets_found", one_of=(False,)),
        *(
            Rule(reason, "body", not_matching=inline_pattern(pattern))
            for reason, pattern in PATTERNS.items()
            if reason not in ("placeholder", "subject_line")
        ),
    ]


def row(item_id: str, body: str) -> dict[str, Any]:
    """The validated columns of one draft (computed columns for what regexes cannot say)."""
    return {"item_id": item_id, "body": body.strip(), "secrets_found": bool(find_secrets(body))}
