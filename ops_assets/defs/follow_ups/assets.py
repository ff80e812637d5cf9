"""The `follow_ups` asset: the follow-up batch a scheduled run registers, so the work shows
in the run's lineage; the inbox sensor then launches that batch like any other (one launcher
per batch, so a batch never runs twice at once)."""

import datetime as dt

import dagster as dg

from ops_assets.orchestration import follow_ups as made
from resources.settings import SettingsResource
from resources.store.resource import StoreResource

SCHEDULED_FOR = "opsbench/scheduled_for"


@dg.asset(group_name="follow_ups", kinds={"sqlite"})
def follow_ups(
    context: dg.AssetExecutionContext, settings: SettingsResource, store: StoreResource
) -> dg.MaterializeResult:
    """Follow-up work items for replies that got no answer, in a batch of their own."""
    config, st = settings.config(), store.get()
    tagged = context.run.tags.get(SCHEDULED_FOR)
    now = dt.datetime.fromisoformat(tagged) if tagged else dt.datetime.now(dt.UTC)
    if st.kill_switch_on():
        return dg.MaterializeResult(metadata={"follow_ups": 0, "held": "kill switch"})
    due = made.due(st, now, config.follow_ups.after_days)[: config.follow_ups.max_per_run]
    if not due:
        return dg.MaterializeResult(metadata={"follow_ups": 0})
    key = f"followup-{now.strftime('%Y%m%dT%H%M%S')}"
    st.create_batch(key, "follow_up_schedule", len(due))
    domain = config.identity.reply_from.rsplit("@", 1)[-1]
    for item, sent_at in due:
        made.register(st, item, sent_at, batch=key, run_id=context.run.run_id, domain=domain)
    return dg.MaterializeResult(
        metadata={
            "follow_ups": len(due),
            "batch": key,
            "replied_item_ids": dg.MetadataValue.json([item["id"] for item, _ in due]),
        }
    )
