"""The cost_per_outcome asset: the call ledger attributed to delivered replies, per workflow,
category and day, written as parquet beside the home's other reports; and the cost per won
deal (an accepted proposal is an outcome: won_deals.py)."""

import dagster as dg

from ops_assets.defs.costs.won_deals import won_deals
from ops_assets.observability.costs import NANO, by, call_frame, cost_report
from resources.settings import SettingsResource
from resources.store.resource import StoreResource


@dg.asset(group_name="outcomes", kinds={"pandas", "parquet"}, deps=["delivery"])
def cost_per_outcome(settings: SettingsResource, store: StoreResource) -> dg.MaterializeResult:
    """Every paid model call attributed to the outcome it served (or to `unattributed`)."""
    st, reports = store.get(), settings.home_dir().reports
    reports.mkdir(parents=True, exist_ok=True)
    frame = call_frame(st)
    frame.to_parquet(reports / "model_calls_attributed.parquet", index=False)
    for key in ("outcome", "agent", "category", "day"):
        by(frame, key).reset_index().to_parquet(reports / f"cost_by_{key}.parquet", index=False)
    report = cost_report(st)
    per_agent = by(frame, "agent")[["model_calls", "cost_usd", "saved_usd"]]
    won = won_deals(st)
    return dg.MaterializeResult(
        metadata={
            "model_calls": report["model_calls"],
            "cache_hits": report["cache_hits"],
            "tokens_in": report["tokens_in"],
            "tokens_out": report["tokens_out"],
            "cost_usd": dg.MetadataValue.float(float(report["cost_usd"])),
            "saved_usd": dg.MetadataValue.float(float(report["saved_usd"])),
            "outcomes": len(report["outcomes"]),
            "cost_per_outcome_usd": dg.MetadataValue.float(
                float(report["cost_per_outcome_usd"] or 0.0)
            ),
            "deals_won": won["deals_won"],
            "cost_per_won_deal_usd": dg.MetadataValue.float(
                float(won["cost_per_won_deal_usd"] or 0.0)
            ),
            "unattributed_usd": dg.MetadataValue.float(
                float(report["unattributed"]["cost_nusd"] / NANO)
            ),
            "by_workflow": dg.MetadataValue.md(per_agent.to_markdown() if len(per_agent) else ""),
            "reports": dg.MetadataValue.path(str(reports)),
        }
    )
