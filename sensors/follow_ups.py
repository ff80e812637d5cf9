"""The follow-up schedule: every morning, replies that got no answer get a drafted nudge in a
batch of their own, which goes through triage-by-code, drafting, review and the approval gate
like any mail."""

import datetime as dt

import dagster as dg

from ops_assets import follow_ups
from ops_assets.defs.jobs import BATCH_JOB
from ops_assets.partitions import BATCHES
from resources.settings import SettingsResource
from resources.store.resource import StoreResource
from sensors.recovery import ATTEMPT_TAG, BATCH_TAG


@dg.schedule(
    job_name=BATCH_JOB,
    cron_schedule="0 9 * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Drafts a follow-up for replies unanswered for follow_ups.after_days",
)
def follow_up_schedule(
    context: dg.ScheduleEvaluationContext, settings: SettingsResource, store: StoreResource
) -> dg.RunRequest | dg.SkipReason:
    config, st = settings.config().follow_ups, store.get()
    if not config.enabled:
        return dg.SkipReason("follow-ups are off in the config")
    if st.kill_switch_on():
        return dg.SkipReason("kill switch is on")
    now = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
    due = follow_ups.due(st, now, config.after_days)[: config.max_per_run]
    if not due:
        return dg.SkipReason("no reply is waiting for an answer")
    key = f"followup-{now.strftime('%Y%m%dT%H%M%S')}"
    st.create_batch(key, "follow_up_schedule", len(due))
    for item, sent_at in due:
        follow_ups.register(st, item, sent_at, batch=key, run_id="follow_up_schedule")
    context.instance.add_dynamic_partitions(BATCHES, [key])
    return dg.RunRequest(
        run_key=key,
        partition_key=key,
        tags={
            BATCH_TAG: key,
            ATTEMPT_TAG: "0",
            "opsbench/trigger": "follow_up_schedule",
            "opsbench/reason": f"{len(due)} unanswered",
        },
    )
