"""The proposals pipeline as rows, for `opsbench proposals [--json]` and the desk: per lead,
its deal stage, newest version and status, value and age (ids and numbers, no mail text)."""

import datetime as dt
from typing import TypedDict

from ops_assets.defs.proposals.deals import deal_of
from resources.store import Store
from resources.store import proposals as rows


class PipelineRow(TypedDict):
    item_id: str
    stage: str
    version: int
    status: str
    value: float
    currency: str
    age_days: int
    verified_checks: str
    """Passed / total verifier rows of the newest version."""


def pipeline(st: Store, *, now: dt.datetime | None = None) -> list[PipelineRow]:
    now = now or dt.datetime.now(dt.UTC)
    found: list[PipelineRow] = []
    statuses = (
        "drafted", "revise", "verified", "failed", "awaiting_approval", "approved",
        "rejected", "sending", "sent", "send_unconfirmed", "send_failed", "send_erased",
    )  # fmt: skip
    for version in rows.latest_by_status(st, statuses):
        deal = deal_of(st, version["item_id"])
        checks = rows.checks_for(st, version["item_id"], version["version"])
        first = rows.all_versions(st, version["item_id"])[0]
        age = now - dt.datetime.fromisoformat(first["created_at"])
        found.append(
            {
                "item_id": version["item_id"],
                "stage": deal["stage"] if deal else "lead",
                "version": version["version"],
                "status": version["status"],
                "value": float(version["total"]),
                "currency": version["currency"],
                "age_days": age.days,
                "verified_checks": f"{sum(c['passed'] for c in checks)}/{len(checks)}",
            }
        )
    return found
