"""Great Expectations 1.x, wrapped for agent output tables (dagster-ge does not support GE 1.x).

Each agent declares its suite beside itself as a list of `Rule`s: one reason code per rule, so
a failing row comes back as `item id -> [reason codes]`. GE is imported on first use (3 s),
never at code-location load, and runs on one quiet ephemeral context per process.

GE runs where it earns its cost: the pattern rules, a whole batch in one call against a suite
built once per process. A rule that is a plain predicate on one value (in a set, not null, a
length between) is checked in Python with GE's semantics (nulls pass every rule but
`not_null`): building and running an expectation costs GE milliseconds per rule and batch,
the predicate microseconds per row.
"""

import math
import re
import threading
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

_lock = threading.Lock()
_context: Any = None
_batches: dict[str, Any] = {}
_suites: dict[tuple[str, tuple["Rule", ...]], Any] = {}


@dataclass(frozen=True)
class Rule:
    """One expectation on one column. Rows that break it fail with `reason`."""

    reason: str
    column: str
    not_matching: str | None = None
    """A Python regex no value may contain (inline flags such as `(?i)` are kept)."""
    min_length: int | None = None
    max_length: int | None = None
    one_of: tuple[Any, ...] | None = None
    not_null: bool = False


@dataclass
class SuiteOutcome:
    suite: str
    rows: int
    failing: dict[str, list[str]] = field(default_factory=dict)
    """Item id -> reason codes, in the order of the suite's rules."""
    unexpected: dict[str, int] = field(default_factory=dict)
    """Reason code -> how many rows broke that rule."""

    @property
    def success(self) -> bool:
        return not self.failing

    def only(self, item_ids: set[str]) -> "SuiteOutcome":
        """The same outcome restricted to some items (those a run actually moved)."""
        kept = SuiteOutcome(self.suite, len(item_ids))
        kept.failing = {i: r for i, r in self.failing.items() if i in item_ids}
        for reasons in kept.failing.values():
            for reason in reasons:
                kept.unexpected[reason] = kept.unexpected.get(reason, 0) + 1
        return kept

    def first_reason(self, item_id: str) -> str | None:
        reasons = self.failing.get(item_id)
        return reasons[0] if reasons else None

    def metadata(self) -> dict[str, Any]:
        """Ids and reason codes only: never message text."""
        return {
            "suite": self.suite,
            "rows": self.rows,
            "failing_rows": len(self.failing),
            "unexpected_counts": dg.MetadataValue.json(self.unexpected),
            "failing_ids": dg.MetadataValue.json(
                {item: reasons for item, reasons in sorted(self.failing.items())}
            ),
        }


def inline_pattern(pattern: re.Pattern[str]) -> str:
    """A compiled pattern as a plain string that keeps its IGNORECASE/MULTILINE/DOTALL flags."""
    flags = "".join(
        letter for flag, letter in ((re.I, "i"), (re.M, "m"), (re.S, "s")) if pattern.flags & flag
    )
    # Groups become non-capturing: pandas warns about capture groups in `str.contains`.
    text = re.sub(r"(?<!\\)\((?!\?)", "(?:", pattern.pattern)
    return f"(?{flags}){text}" if flags else text


def any_of(patterns: list[re.Pattern[str]]) -> str:
    """Several patterns as one alternation, each keeping its own flags (scoped groups: a
    global flag may only open a whole expression)."""
    parts = []
    for pattern in patterns:
        text = inline_pattern(pattern)
        flags = re.match(r"\(\?([imsx]+)\)", text)
        parts.append(f"(?{flags.group(1)}:{text[flags.end() :]})" if flags else f"(?:{text})")
    return "|".join(parts)


def validate(suite: str, rows: list[dict[str, Any]], rules: list[Rule]) -> SuiteOutcome:
    """Validate rows (each with an `item_id`) against the rules: the pattern rules with Great
    Expectations in one call, the plain predicates in Python."""
    outcome = SuiteOutcome(suite, len(rows))
    if not rows:
        return outcome
    patterns = [rule for rule in rules if rule.not_matching is not None]
    broken = great_expectations(suite, rows, patterns) if patterns else {}
    for rule in rules:
        ids = broken.get(rule) if rule.not_matching is not None else _predicate(rule, rows)
        if not ids:
            continue
        outcome.unexpected[rule.reason] = len(ids)
        for item_id in ids:
            outcome.failing.setdefault(item_id, []).append(rule.reason)
    return outcome


def great_expectations(
    suite: str, rows: list[dict[str, Any]], rules: list[Rule]
) -> dict[Rule, list[str]]:
    """The item ids breaking each rule, by Great Expectations (every rule kind, one call)."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    with _lock:
        # The context comes first: GE builds suites only inside an active one.
        batch = _batch_definition(suite).get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(
            _suite(suite, tuple(rules)),
            result_format={
                "result_format": "COMPLETE",
                "unexpected_index_column_names": ["item_id"],
            },
        )
    by_reason = {rule.reason: rule for rule in rules}
    broken: dict[Rule, list[str]] = {}
    for check in result.results:
        reason = check.expectation_config.meta["reason"]
        error = _raised(check.exception_info)
        if error is not None:
            raise RuntimeError(f"suite {suite}: rule {reason} could not run: {error}")
        if not check.success:
            found = check.result.get("unexpected_index_list") or []
            broken[by_reason[reason]] = [str(row["item_id"]) for row in found]
    return broken


def _suite(name: str, rules: tuple[Rule, ...]) -> Any:
    """One ExpectationSuite per suite and rule set, built once per process (under _lock)."""
    key = (name, rules)
    if key not in _suites:
        import great_expectations as gx

        expectations = gx.ExpectationSuite(name=name)
        for rule in rules:
            expectations.add_expectation(_expectation(gx, rule))
        _suites[key] = expectations
    return _suites[key]


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _predicate(rule: Rule, rows: list[dict[str, Any]]) -> list[str]:
    """The item ids breaking a plain-predicate rule, judged as GE judges it."""
    if not any(rule.column in row for row in rows):
        raise RuntimeError(f"rule {rule.reason} could not run: no column {rule.column!r}")
    if rule.not_null:
        return [str(row["item_id"]) for row in rows if _is_null(row.get(rule.column))]
    present = [(str(row["item_id"]), row[rule.column]) for row in rows if rule.column in row]
    present = [(item_id, value) for item_id, value in present if not _is_null(value)]
    if rule.one_of is not None:
        allowed = rule.one_of
        return [item_id for item_id, value in present if value not in allowed]
    if rule.min_length is not None or rule.max_length is not None:
        low = rule.min_length if rule.min_length is not None else 0
        high = rule.max_length if rule.max_length is not None else math.inf
        if any(not isinstance(value, str) for _, value in present):
            raise RuntimeError(f"rule {rule.reason} could not run: {rule.column} holds non-text")
        return [item_id for item_id, value in present if not low <= len(value) <= high]
    raise ValueError(f"rule {rule.reason} expects nothing")


def _raised(info: dict[str, Any]) -> str | None:
    """GE reports a rule that crashed either flat or keyed by metric; find it either way."""
    for entry in (info, *(v for v in info.values() if isinstance(v, dict))):
        if entry.get("raised_exception"):
            return str(entry.get("exception_message"))
    return None


def _expectation(gx: Any, rule: Rule) -> Any:
    meta = {"reason": rule.reason}
    ex = gx.expectations
    if rule.not_matching is not None:
        return ex.ExpectColumnValuesToNotMatchRegex(
            column=rule.column, regex=rule.not_matching, meta=meta
        )
    if rule.min_length is not None or rule.max_length is not None:
        return ex.ExpectColumnValueLengthsToBeBetween(
            column=rule.column, min_value=rule.min_length, max_value=rule.max_length, meta=meta
        )
    if rule.one_of is not None:
        return ex.ExpectColumnValuesToBeInSet(
            column=rule.column, value_set=list(rule.one_of), meta=meta
        )
    if rule.not_null:
        return ex.ExpectColumnValuesToNotBeNull(column=rule.column, meta=meta)
    raise ValueError(f"rule {rule.reason} expects nothing")


def _batch_definition(suite: str) -> Any:
    global _context
    if _context is None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context = gx.get_context(mode="ephemeral")
        # GE draws a progress bar on stderr for every validation otherwise.
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        context.data_sources.add_pandas("opsbench")
        _context = context
    if suite not in _batches:
        asset = _context.data_sources.get("opsbench").add_dataframe_asset(suite)
        _batches[suite] = asset.add_batch_definition_whole_dataframe(suite)
    return _batches[suite]
