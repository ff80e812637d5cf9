"""The follow-up schedule: every morning, replies that got no answer get a drafted nudge in a
batch of their own, which goes through triage-by-code, drafting, review and the approval gate
like any mail."""

import datetime as dt

import dagster as dg

from ops_assets.defs.jobs import BATCH_JOB
from ops_assets.orchestration import follow_ups
from resources.settings import SettingsResource
from resources.store.resource import StoreResource


@dg.schedule(
    job_name=BATCH_JOB,
    cron_schedule="0 9 * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Drafts a follow-up for replies unanswered for follow_ups.after_days",
)
def follow_up_schedule(
    context: dg.ScheduleEvaluationContext, settings: SettingsResource, store: StoreResource
) -> dg.SkipReason:
    """Registers the follow-ups as a batch; the inbox sensor launches its run like any batch's
    (one launcher per batch, so a batch never runs twice at once)."""
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
    domain = settings.config().identity.reply_from.rsplit("@", 1)[-1]
    for item, sent_at in due:
        follow_ups.register(
            st, item, sent_at, batch=key, run_id="follow_up_schedule", domain=domain
        )
    return dg.SkipReason(f"{len(due)} follow-up(s) in batch {key}; the inbox sensor runs it")
