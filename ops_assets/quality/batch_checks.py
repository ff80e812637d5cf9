"""The two checks every batch agent reports: its suite (failing ids and reason codes) and its
blocking failure rate over the whole batch, which holds the batch when it is too high."""

from dataclasses import dataclass
from typing import Any

import dagster as dg

from ops_assets.agents.agent_run import batch_failure_rate
from ops_assets.governance.gate import hold_blocked
from ops_assets.quality.suites import SuiteOutcome
from resources.store import Store


@dataclass(frozen=True)
class BatchRate:
    judged: int
    failed: int
    limit: float

    @property
    def rate(self) -> float:
        return self.failed / self.judged if self.judged else 0.0

    @property
    def blocked(self) -> bool:
        return self.rate > self.limit


def hold_if_blocked(
    st: Store,
    items: list[dict[str, Any]],
    asset: str,
    *,
    batch: str,
    stage: str,
    actor: str,
    limit: float,
) -> BatchRate:
    """The agent's failure rate over the batch's stored rows (a run that died half-way and its
    re-run count as one, so a crash cannot dilute it); above the limit, everything of the
    batch still waiting in `stage` goes to the owner as `batch_blocked` — of the items this
    agent judged only: another workflow's items in the same state are not its to hold."""
    rate = BatchRate(*batch_failure_rate(st, items, asset), limit)
    if rate.blocked:
        judged = {i["id"] for i in items}
        waiting = [i for i in st.items(batch=batch, states=[stage]) if i["id"] in judged]
        hold_blocked(st, waiting, actor=actor, rate=rate.rate, expect=stage)
    return rate


def check_specs(
    asset: str, *, suite: tuple[str, str], rate: tuple[str, str]
) -> list[dg.AssetCheckSpec]:
    """The agent's suite check and its blocking rate check, as (name, description) pairs."""
    return [
        dg.AssetCheckSpec(suite[0], asset=asset, description=suite[1]),
        dg.AssetCheckSpec(rate[0], asset=asset, blocking=True, description=rate[1]),
    ]


def suite_check(name: str, outcome: SuiteOutcome) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=name,
        passed=outcome.success,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=outcome.metadata(),
    )


def rate_check(name: str, rate: BatchRate, **extra: Any) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=name,
        passed=not rate.blocked,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "attempted": rate.judged,
            "failed": rate.failed,
            "failure_rate": dg.MetadataValue.float(round(rate.rate, 4)),
            "max_failure_rate": dg.MetadataValue.float(rate.limit),
            **extra,
        },
    )
