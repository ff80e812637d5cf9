"""Percentiles of model-call wall times: one definition for status, the desk and metadata."""

from collections.abc import Iterable, Mapping
from typing import TypedDict


class Latency(TypedDict):
    calls: int
    p50_ms: int
    p95_ms: int


def percentile(values: Iterable[float], share: float) -> float:
    """The nearest-rank value at `share` (0..1) of the values; they must not be empty."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def summary(values: Iterable[float]) -> Latency | None:
    """Count, p50 and p95 in milliseconds; None without a measured call."""
    measured = [float(v) for v in values]
    if not measured:
        return None
    return Latency(
        calls=len(measured),
        p50_ms=round(percentile(measured, 0.5)),
        p95_ms=round(percentile(measured, 0.95)),
    )


def per_agent(latencies: Mapping[str, Iterable[float]]) -> dict[str, Latency]:
    """`summary` for each agent that has a measured call, in the agents' order given."""
    found = {agent: summary(values) for agent, values in latencies.items()}
    return {agent: latency for agent, latency in found.items() if latency is not None}
