"""The follow-up schedule: once a day, at `follow_ups.hour` of the owner's day (their
`identity.timezone`, read at each tick, so a changed config needs no redeploy), a run of
`register_follow_ups` turns replies that got no answer into a batch of follow-up work items,
which the inbox sensor launches like any batch. It ticks hourly because a schedule's own
time zone is fixed when the code location loads, before any config is read."""

import datetime as dt
import zoneinfo

import dagster as dg

from ops_assets.defs.follow_ups.assets import SCHEDULED_FOR
from ops_assets.defs.jobs import FOLLOW_UPS_JOB
from resources.settings import SettingsResource
from resources.store.resource import StoreResource


@dg.schedule(
    job_name=FOLLOW_UPS_JOB,
    cron_schedule="0 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Drafts a follow-up for replies unanswered for follow_ups.after_days, once a "
    "day at follow_ups.hour in the owner's time zone",
)
def follow_up_schedule(
    context: dg.ScheduleEvaluationContext, settings: SettingsResource, store: StoreResource
) -> dg.RunRequest | dg.SkipReason:
    config = settings.config()
    if not config.follow_ups.enabled:
        return dg.SkipReason("follow-ups are off in the config")
    if store.get().kill_switch_on():
        return dg.SkipReason("kill switch is on")
    now = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
    local = now.astimezone(zoneinfo.ZoneInfo(config.identity.timezone))
    if local.hour != config.follow_ups.hour:
        return dg.SkipReason(
            f"follow-ups are made at {config.follow_ups.hour:02d}:00 {config.identity.timezone}"
        )
    return dg.RunRequest(
        run_key=f"follow-ups-{local.date().isoformat()}",  # once per day of the owner's
        tags={"opsbench/trigger": "follow_up_schedule", SCHEDULED_FOR: now.isoformat()},
    )
