"""The inbox sensor: each tick claims finished files, registers them, releases deferred work
whose time has come (sensors/deferred.py) into new batches, and launches one run per intake
batch (a dynamic partition). Batches that still hold unfinished items are requested again under
the same run key, so Dagster launches each batch attempt exactly once."""

import dagster as dg

from ops_assets.defs.jobs import BATCH_JOB
from ops_assets.orchestration.partitions import BATCHES, batches
from resources.llm.resource import LLMResource
from resources.settings import SettingsResource
from resources.settings.config import ConfigError
from resources.store.resource import StoreResource
from sensors.deferred import Clock, resume_deferred, utc_now
from sensors.intake import tick
from sensors.orphans import fail_orphaned_runs
from sensors.recovery import ATTEMPT_TAG, BATCH_TAG, hold_for_kill_switch, recover_batches


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


def build_inbox_sensor(clock: Clock = utc_now) -> dg.SensorDefinition:
    """The inbox sensor, reading the time from `clock` (the headless runner and tests pass
    their own to move a day on without waiting for it)."""

    @dg.sensor(
        name="inbox_sensor",
        job_name=BATCH_JOB,
        minimum_interval_seconds=5,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def inbox_sensor(
        context: dg.SensorEvaluationContext,
        settings: SettingsResource,
        store: StoreResource,
        llm: LLMResource,
    ) -> dg.SensorResult | dg.SkipReason:
        """Claims mail dropped into <home>/inbox, releases deferred work whose time has come,
        and launches a run per intake batch."""
        try:
            config = settings.config()
        except ConfigError as exc:
            return dg.SkipReason(f"config error, nothing claimed: {exc}")
        st = store.get()
        result = tick(st, settings.home_dir(), config)
        if config.intake.imap:  # mail read where it lives (sensors/imap_intake.py)
            from sensors.imap_intake import imap_tick

            result.registered += imap_tick(st, settings.home_dir(), config).registered
        if st.kill_switch_on():
            # Intake goes on (nothing is lost); no run starts until `opsbench resume`.
            held = hold_for_kill_switch(context.instance, st)
            return dg.SkipReason(
                f"kill switch is on: {result.registered} items registered, {held} held, no runs"
            )
        fail_orphaned_runs(context.instance)  # a killed worker's runs stay STARTED otherwise
        recover_batches(context.instance, st)
        resume_deferred(st, config, now=clock(), model_healthy=lambda: _healthy(llm))
        known = set(context.instance.get_dynamic_partitions(BATCHES))
        pending = st.pending_batches()
        new_keys = [b["key"] for b in pending if b["key"] not in known]
        requests = [batch_run_request(b["key"], b["attempt"], b["trigger"]) for b in pending]
        if not requests:
            return dg.SkipReason(
                f"nothing to run (quarantined {result.quarantined}, duplicates "
                f"{result.duplicates}, waiting {result.waiting})"
            )
        return dg.SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=[batches.build_add_request(new_keys)] if new_keys else [],
        )

    return inbox_sensor


def _healthy(llm: LLMResource) -> bool:
    from resources.llm.health import endpoint_healthy

    try:
        endpoint = llm.endpoint()
    except Exception:  # no server for this home yet, say: not healthy, try later
        return False
    return endpoint_healthy(endpoint)


inbox_sensor = build_inbox_sensor()
