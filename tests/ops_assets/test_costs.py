"""Cost per outcome: every paid call lands on exactly one delivered outcome or in
`unattributed`, and the parts add up exactly to the call ledger."""

import pandas as pd
from support import batch_assets, outcome_assets

from ops_assets.defs.costs.assets import cost_per_outcome
from ops_assets.observability.costs import NANO, cost_report


def _ledger_nano(store) -> int:
    calls, _ = store.ledger()
    return sum(round(c["cost_usd"] * NANO) for c in calls)


def test_attribution_sums_exactly_to_the_ledger(bench) -> None:
    key = bench.intake()
    bench.materialize(batch_assets(), key)
    bench.materialize(outcome_assets())
    bench.materialize(batch_assets(), key)  # a re-run: every call a cache hit
    result = bench.materialize(outcome_assets())

    report = cost_report(bench.store)
    totals = bench.store.call_totals()
    assert report["model_calls"] == totals["model_calls"] > 0
    assert report["cache_hits"] == totals["cache_hits"] > 0
    assert (report["tokens_in"], report["tokens_out"]) == (
        totals["tokens_in"],
        totals["tokens_out"],
    )
    parts = sum(o["cost_nusd"] for o in report["outcomes"]) + report["unattributed"]["cost_nusd"]
    assert parts == report["cost_nusd"] == _ledger_nano(bench.store)
    assert report["model_calls"] == (
        sum(o["model_calls"] for o in report["outcomes"]) + report["unattributed"]["model_calls"]
    )
    for table in ("by_workflow", "by_category", "by_day"):
        assert sum(r["cost_nusd"] for r in report[table].values()) == report["cost_nusd"]

    delivered = {i["id"] for i in bench.store.items() if i["state"] == "delivered"}
    assert delivered and {o["item_id"] for o in report["outcomes"]} == delivered
    for outcome in report["outcomes"]:
        # Triage, draft and review of the item add up to its delivered reply.
        assert {c["agent"] for c in outcome["calls"]} == {"triage", "reply_draft", "review"}
        assert outcome["cost_nusd"] == sum(c["cost_nusd"] for c in outcome["calls"])
    # Held items' calls are paid but serve no delivered outcome (yet).
    assert report["unattributed"]["model_calls"] > 0
    assert "awaiting_approval" in report["unattributed"]["by_item_state_nusd"]
    # The re-run cost nothing and saved what the first run paid for triage and drafts (the
    # reviewer only looks at new drafts, so it was not asked again).
    redone = ("triage", "reply_draft")
    assert round(report["saved_usd"] * NANO) == sum(
        report["by_workflow"][agent]["cost_nusd"] for agent in redone
    )

    (mat,) = result.asset_materializations_for_node("cost_per_outcome")
    assert mat.metadata["outcomes"].value == len(delivered)
    by_outcome = pd.read_parquet(bench.home.reports / "cost_by_outcome.parquet")
    assert int(by_outcome["cost_nusd"].sum()) == report["cost_nusd"]
    assert set(by_outcome["outcome"]) == delivered | {"unattributed"}


def test_an_empty_home_costs_nothing(bench) -> None:
    report = cost_report(bench.store)
    assert report["model_calls"] == 0 and report["outcomes"] == []
    assert report["cost_per_outcome_usd"] is None
    assert bench.materialize([cost_per_outcome]).success
