"""Money amounts in the notations clients write: 1,500.00 / 1.500,00 / 1 500,00 / 1'500.00,
before or after €, $, £, CHF, an ISO code or a currency word.

A figure counts only next to a currency, so invoice numbers and dates are not money. Where a
notation is ambiguous ("€1.500" is 1,500 in Germany, 1.5 nowhere on an invoice) the larger
reading wins: the policy's limits are upper bounds, and reading too much only asks the owner.
"""

import re

from ops_assets.governance.normalize import for_rules

_CODES = r"EUR|USD|GBP|CHF|CAD|AUD|NZD|JPY|SEK|NOK|DKK|PLN|CZK|HUF"
_WORDS = r"dollars?|euros?|pounds?|francs?|bucks|quid"
_SYMBOL = r"US\$|[$€£¥]|(?<![a-z])S?Fr\.(?!\w)"
# A thousands separator (one kind per number) or none; a final . or , and one or two digits is
# the decimal mark. "1.500,-" is how German invoices write a round sum.
_NUMBER = (
    r"(?P<{g}>\d{{1,3}}(?P<{g}sep>[,.' ])\d{{3}}(?:(?P={g}sep)\d{{3}})*"
    r"(?:[.,]\d{{1,2}})?|\d+(?:[.,]\d{{1,2}})?)(?!\d)(?:[.,]-{{1,2}})?"
    r"(?:\s?(?P<{g}k>k|thousand|million|mio|m)\b)?"
)
AMOUNT = re.compile(
    rf"(?:{_SYMBOL}|(?<![a-z])(?:{_CODES})(?![a-z]))\s?{_NUMBER.format(g='pre')}"
    rf"|(?<![\w.,']){_NUMBER.format(g='post')}\s?(?:{_SYMBOL}|(?:{_CODES}|{_WORDS})(?![a-z]))",
    re.I,
)
_DECIMALS = re.compile(r"[.,](\d{1,2})$")
_SCALE = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "mio": 1e6}


def parse_number(raw: str) -> float:
    """One figure as written; thousands separators of any kind, a decimal mark of either."""
    head, decimals = raw, "0"
    found = _DECIMALS.search(raw)
    if found:
        head, decimals = raw[: found.start()], found.group(1)
    return float(f"{re.sub(r'[^0-9]', '', head) or '0'}.{decimals}")


def amounts(text: str | None) -> list[float]:
    """Every money amount in the text, in order, read from its normalised form."""
    found = []
    for match in AMOUNT.finditer(for_rules(text)):
        group = "pre" if match.group("pre") is not None else "post"
        value = parse_number(match.group(group))
        scale = (match.group(f"{group}k") or "").lower()
        found.append(value * _SCALE.get(scale, 1.0))
    return found
