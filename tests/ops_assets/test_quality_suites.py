"""The suite runner: plain predicates checked in Python judge exactly as Great Expectations
does, pattern rules still run through GE, and a suite is built once per process."""

import math

import pytest

from ops_assets.quality import suites
from ops_assets.quality.suites import Rule, great_expectations, validate

RULES = [
    Rule("bad_category", "category", one_of=("support", "sales")),
    Rule("unchecked", "checked", one_of=(True,)),
    Rule("no_owner", "owner", not_null=True),
    Rule("too_short", "body", min_length=5),
    Rule("too_long", "body", max_length=12),
    Rule("placeholder", "body", not_matching=r"(?i)\[name\]"),
]
ROWS = [
    {"item_id": "a", "category": "support", "checked": True, "owner": "x", "body": "Hi there"},
    {"item_id": "b", "category": "spam", "checked": False, "owner": None, "body": "Hi"},
    {"item_id": "c", "category": None, "checked": True, "owner": "y", "body": "Dear [NAME]!"},
    {
        "item_id": "d",
        "category": "sales",
        "checked": 1,
        "owner": "z",
        "body": "far too long a body",
    },
    {"item_id": "e", "category": "sales", "checked": True, "owner": math.nan, "body": None},
    {"item_id": "f", "category": "support", "owner": "w", "body": "Fine, thanks"},
]


def test_predicates_in_python_judge_as_great_expectations_does() -> None:
    outcome = validate("suite_parity", ROWS, RULES)
    by_ge = great_expectations("suite_parity_ge", ROWS, RULES)
    for rule in RULES:
        expected = sorted(by_ge.get(rule, []))
        got = sorted(i for i, reasons in outcome.failing.items() if rule.reason in reasons)
        assert got == expected, rule.reason
        assert outcome.unexpected.get(rule.reason, 0) == len(expected)
    # Nulls pass every rule but not_null; reasons come in the suite's order.
    assert outcome.failing == {
        "b": ["bad_category", "unchecked", "no_owner", "too_short"],
        "c": ["placeholder"],
        "d": ["too_long"],
        "e": ["no_owner"],
    }


def test_a_rule_that_cannot_run_is_an_error_not_a_pass() -> None:
    with pytest.raises(RuntimeError, match="no column 'missing'"):
        validate("suite_missing", ROWS, [Rule("gone", "missing", one_of=(1,))])
    with pytest.raises(RuntimeError, match="non-text"):
        validate("suite_types", [{"item_id": "a", "n": 3}], [Rule("long", "n", max_length=2)])


def test_a_suite_is_built_once_per_process(monkeypatch) -> None:
    import great_expectations as gx

    built = []
    real = gx.ExpectationSuite

    def counting(*args, **kwargs):
        built.append(kwargs.get("name"))
        return real(*args, **kwargs)

    monkeypatch.setattr(gx, "ExpectationSuite", counting)
    monkeypatch.setattr(suites, "_suites", {})
    for _ in range(3):
        outcome = validate("suite_once", ROWS, RULES)
        assert outcome.failing["c"] == ["placeholder"]
    assert built == ["suite_once"]
