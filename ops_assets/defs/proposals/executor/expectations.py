"""The proposal_draft suite: prose without prices, discounts, dates or placeholders (those
are code's to write), a cover mail of a sensible length, every line priced from the
catalogue."""

import re
from typing import Any

from ops_assets.governance.secrets import find_secrets
from ops_assets.quality.suites import Rule, inline_pattern

SUITE = "proposal_draft"

PRICE = re.compile(
    r"(?:[€$£]\s?\d|\b\d[\d.,]*\s?(?:€|\$|£|eur|usd|gbp|euros?|dollars?)\b"
    r"|\b(?:eur|usd|gbp)\s?\d|\d\s?%|\bper cent\b|\bpercent\b)",
    re.I,
)
COMMITMENT = re.compile(
    r"\b(?:discount(?:ed)?|rebate|refund|money[- ]back|guarantee[ds]?|free of charge|for free"
    r"|no charge|waive[ds]?|price match|\d+\s?% off|half price)\b",
    re.I,
)
DATE = re.compile(
    r"\b(?:\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{2,4}|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|"
    r"oct|nov|dec)[a-z]*\.? \d{1,2}(?:st|nd|rd|th)?|\d{1,2}(?:st|nd|rd|th)? (?:of )?(?:jan|feb|"
    r"mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*)\b",
    re.I,
)
PLACEHOLDER = re.compile(r"\[[^\]\n]{2,40}\]|\{[^}\n]{2,40}\}")


def rules() -> list[Rule]:
    # Order matters: the first failing rule is the reason a revision (or the owner) sees.
    return [
        Rule("unpriced_line", "lines_priced", one_of=(True,)),
        Rule("price_in_prose", "prose", not_matching=inline_pattern(PRICE)),
        Rule("commitment", "prose", not_matching=inline_pattern(COMMITMENT)),
        Rule("date_in_prose", "prose", not_matching=inline_pattern(DATE)),
        Rule("placeholder", "prose", not_matching=inline_pattern(PLACEHOLDER)),
        Rule("cover_too_short", "cover_mail", min_length=40),
        Rule("secret", "secrets_found", one_of=(False,)),
    ]


def row(item_id: str, prose: str, cover_mail: str, *, lines_priced: bool) -> dict[str, Any]:
    """`prose`: everything the model wrote (title, summary, scope, cover mail)."""
    return {
        "item_id": item_id,
        "prose": prose,
        "cover_mail": cover_mail.strip(),
        "lines_priced": lines_priced,
        "secrets_found": bool(find_secrets(prose)),
    }
