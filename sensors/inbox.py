"""The inbox sensor: each tick claims finished files, registers them, and launches one run per
intake batch (a dynamic partition). Batches that still hold unfinished items are requested
again under the same run key, so Dagster launches each batch attempt exactly once."""

import dagster as dg

from ops_assets.config import ConfigError
from ops_assets.defs.jobs import BATCH_JOB
from ops_assets.partitions import BATCHES, batches
from resources.settings import SettingsResource
from resources.store.resource import StoreResource
from sensors.intake import tick
from sensors.recovery import ATTEMPT_TAG, BATCH_TAG, recover_batches


def batch_run_request(key: str, attempt: int, trigger: str) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=f"{key}#{attempt}",
        partition_key=key,
        tags={
            BATCH_TAG: key,
            ATTEMPT_TAG: str(attempt),
            "opsbench/trigger": trigger,
            "opsbench/reason": "new_batch" if attempt == 0 else "retry",
        },
    )


@dg.sensor(
    job_name=BATCH_JOB, minimum_interval_seconds=5, default_status=dg.DefaultSensorStatus.RUNNING
)
def inbox_sensor(
    context: dg.SensorEvaluationContext, settings: SettingsResource, store: StoreResource
) -> dg.SensorResult | dg.SkipReason:
    """Claims mail dropped into <home>/inbox and launches a run per intake batch."""
    try:
        config = settings.config()
    except ConfigError as exc:
        return dg.SkipReason(f"config error, nothing claimed: {exc}")
    st = store.get()
    result = tick(st, settings.home_dir(), config)
    if st.kill_switch_on():
        # Intake goes on (nothing is lost); no run starts until `opsbench resume`.
        return dg.SkipReason(f"kill switch is on: {result.registered} items registered, no runs")
    recover_batches(context.instance, st)
    known = set(context.instance.get_dynamic_partitions(BATCHES))
    pending = st.pending_batches()
    new_keys = [b["key"] for b in pending if b["key"] not in known]
    requests = [batch_run_request(b["key"], b["attempt"], b["trigger"]) for b in pending]
    if not requests:
        return dg.SkipReason(
            f"nothing to run (quarantined {result.quarantined}, duplicates {result.duplicates},"
            f" waiting {result.waiting})"
        )
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[batches.build_add_request(new_keys)] if new_keys else [],
    )
