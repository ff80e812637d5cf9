"""Run the pipeline without the daemon: the same sensors and jobs, through the home's Dagster
instance, so every run shows up in the UI afterwards. Used by `opsbench demo` and tests."""

import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg

from ops_assets.defs.jobs import ARCHIVIST_JOB, BATCH_JOB, OUTCOMES_JOB, RETRAIN_JOB
from ops_assets.orchestration.partitions import BATCHES
from resources.processes import pid_alive
from resources.settings.home import Home
from resources.store import Store
from sensors.deferred import Clock, utc_now
from sensors.inbox import build_inbox_sensor
from sensors.intake import complete_files
from sensors.orphans import fail_orphaned_runs
from sensors.recovery import recover_batches

RUN_KEY_TAG = "opsbench/run_key"
PID_TAG = "opsbench/pid"
# The event log keeps everything; the terminal only needs warnings and errors.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class HeadlessOutcome:
    rested: bool
    runs: int
    failed_runs: int
    kill_switch: bool = False
    """The kill switch is on: the runner took the mail in, held it, and returned at once."""


class HeadlessRunner:
    def __init__(
        self,
        home: Home,
        store: Store,
        *,
        log: Callable[[str], None] = _stderr,
        clock: Clock = utc_now,
    ) -> None:
        """`clock`: when deferred work is due (tests move a day on without waiting for it)."""
        from location.definitions import defs, resource_defs

        self.home, self.store, self.log = home, store, log
        self.inbox_sensor = build_inbox_sensor(clock)
        self.defs = defs
        self.resources = resource_defs()
        self.instance = dg.DagsterInstance.from_config(str(home.dagster))
        self.runs = self.failed_runs = 0
        self._fail_abandoned_runs()

    def _fail_abandoned_runs(self) -> None:
        """Runs a killed headless process left 'started' are marked failed, so recovery and the
        delivery lock can tell they are dead."""
        for run in self.instance.get_runs(
            filters=dg.RunsFilter(
                statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING]
            )
        ):
            pid = run.tags.get(PID_TAG)
            if pid and pid.isdigit() and not pid_alive(int(pid)):
                self.instance.report_run_failed(run, "its process died (headless run)")
                # Its step may have held the delivery pool's slot (the daemon frees those of
                # finished runs itself; headless there is no daemon).
                self.instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)

    def run_until_rested(self, *, timeout_s: float, poll_s: float = 0.25) -> HeadlessOutcome:
        deadline = time.monotonic() + timeout_s
        progressed = True  # the first pass trains a new home's classifier before any triage
        while True:
            if self.store.kill_switch_on():
                return self._held_by_kill_switch(deadline)
            if progressed:
                self._classifier_tick()
            progressed = self._inbox_tick() | self._outcomes_tick() | self._workflow_ticks()
            if progressed:
                self._alerts_tick()
            if self._rested():
                if self._archivist_tick():  # what its hourly schedule does under the daemon
                    self._alerts_tick()
                    continue
                return HeadlessOutcome(True, self.runs, self.failed_runs)
            if time.monotonic() > deadline:
                return HeadlessOutcome(False, self.runs, self.failed_runs)
            if not progressed:
                time.sleep(poll_s)

    # -------------------------------------------------------------- ticks
    def _context(self, name: str) -> dg.SensorEvaluationContext:
        return dg.build_sensor_context(
            instance=self.instance,
            resources=self.resources,
            definitions=self.defs,
            sensor_name=name,
        )

    def _held_by_kill_switch(self, deadline: float) -> HeadlessOutcome:
        """No run starts while the switch is on: take in what has arrived (the sensor holds it
        as deferred / kill_switch) and return, rather than wait for work that cannot move."""
        settle = time.monotonic() + self._settle_s() + 1.0
        while True:
            self._inbox_tick()
            if self._intake_empty() or time.monotonic() > min(deadline, settle):
                return HeadlessOutcome(False, self.runs, self.failed_runs, kill_switch=True)
            time.sleep(0.1)

    def _settle_s(self) -> float:
        from resources.settings.config import load_config

        config = load_config()  # a file must settle, then a small batch waits to fill
        return config.intake.settle_s + config.batching.max_wait_s

    def _inbox_tick(self) -> bool:
        with self._context("inbox_sensor") as context:
            result = self.inbox_sensor(context)
        if isinstance(result, dg.SkipReason) or result is None:
            return False
        if not (isinstance(result, dg.SensorResult)):  # an invariant, kept under python -O
            raise RuntimeError("invariant broken: isinstance(result, dg.SensorResult)")
        for request in result.dynamic_partitions_requests or []:
            self.instance.add_dynamic_partitions(BATCHES, list(request.partition_keys or []))
        progressed = False
        for run_request in result.run_requests or []:
            progressed |= self._launch_batch(run_request)
        return progressed

    def _workflow_ticks(self) -> bool:
        """The sensors of each workflow with its own job (the proposals workflow's), as the
        daemon ticks them: without them its items would never rest."""
        from ops_assets.orchestration.workflows import workflows

        progressed = False
        for workflow in (w for w in workflows().values() if not w.per_batch):
            for sensor in self.defs.sensors or []:
                try:
                    if sensor.job_name != workflow.job:
                        continue
                except dg.DagsterInvalidDefinitionError:  # a sensor with no job (alerts)
                    continue
                with self._context(sensor.name) as context:
                    result = sensor(context)
                requests = result.run_requests if isinstance(result, dg.SensorResult) else []
                for request in requests or []:
                    progressed |= self._execute(workflow.job, request, partition_key=None)
        return progressed

    def _outcomes_tick(self) -> bool:
        from sensors.outcomes import outcomes_sensor

        with self._context("outcomes_sensor") as context:
            result = outcomes_sensor(context)
        if not isinstance(result, dg.RunRequest):
            return False
        return self._execute(OUTCOMES_JOB, result, partition_key=None)

    def _archivist_tick(self) -> bool:
        """Consolidate memory once everything else rests; once per state of memory, so an
        archivist that cannot progress (model down) is not retried in a loop."""
        from resources.memory import Memory
        from sensors.archivist import pending_rows

        waiting = pending_rows(Memory(self.home.memory), self.store)
        if not waiting:
            return False
        key = f"archivist-{len(self.store.archived_row_ids())}-{waiting}"
        request = dg.RunRequest(run_key=key, tags={"opsbench/trigger": "archivist"})
        return self._execute(ARCHIVIST_JOB, request, partition_key=None)

    def _classifier_tick(self) -> bool:
        """What the retrain sensor does under the daemon: a home's first triage classifier
        before its first triage (without one every mail past the rules costs a model call),
        then a retrain when enough new labels arrived."""
        from sensors.retrain import retrain_sensor

        key = "headless_cursor:retrain_sensor"
        row = self.store.control(key)
        with dg.build_sensor_context(
            instance=self.instance,
            resources=self.resources,
            definitions=self.defs,
            sensor_name=retrain_sensor.name,
            cursor=row["value"] if row else None,
        ) as context:
            result = retrain_sensor(context)
        if not isinstance(result, dg.SensorResult):
            return False
        ran = False
        for request in result.run_requests or []:
            ran |= self._execute(RETRAIN_JOB, request, partition_key=None)
        if result.cursor is not None:
            self.store.set_control(key, result.cursor, actor="headless")
        return ran

    def _alerts_tick(self) -> None:
        """The alert sensors, with their cursors kept in the store (the daemon keeps its own)."""
        from sensors.alerts import check_failure_alerts, run_failure_alerts

        for sensor in (run_failure_alerts, check_failure_alerts):
            key = f"headless_cursor:{sensor.name}"
            row = self.store.control(key)
            with dg.build_sensor_context(
                instance=self.instance,
                resources=self.resources,
                definitions=self.defs,
                sensor_name=sensor.name,
                cursor=row["value"] if row else None,
            ) as context:
                sensor(context)
                if context.cursor:
                    self.store.set_control(key, context.cursor, actor="headless")

    def _launch_batch(self, request: dg.RunRequest) -> bool:
        if self._runs_with_key(request.run_key or ""):
            # Ran under this key already; if it left items unfinished, recovery gives the
            # batch a new attempt (a new key) on a later tick, or hands it to the owner.
            fail_orphaned_runs(self.instance)  # a killed `demo` left them STARTED
            return bool(recover_batches(self.instance, self.store, grace_s=0))
        return self._execute(BATCH_JOB, request, partition_key=request.partition_key)

    def _execute(self, job_name: str, request: dg.RunRequest, *, partition_key: str | None) -> bool:
        if self._runs_with_key(request.run_key or ""):
            return False
        job = self.defs.resolve_job_def(job_name)
        tags = {**request.tags, RUN_KEY_TAG: request.run_key or "", PID_TAG: str(os.getpid())}
        self.log(f"run {job_name}" + (f" for {partition_key}" if partition_key else ""))
        result = job.execute_in_process(
            instance=self.instance,
            partition_key=partition_key,
            tags=tags,
            raise_on_error=False,
            run_config=QUIET,
        )
        self.runs += 1
        if not result.success:
            self.failed_runs += 1
            self.log(f"run {result.run_id[:8]} of {job_name} did not succeed (see the Dagster UI)")
        return True

    def _runs_with_key(self, run_key: str) -> list[dg.DagsterRun]:
        return list(self.instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_key})))

    def _intake_empty(self) -> bool:
        if any(not p.name.startswith(".") for p in self.home.claimed.iterdir()):
            return False
        # anything waiting in the inbox, settled or not
        return not complete_files([self.home.inbox], settle_s=-math.inf, now=time.time())

    def _rested(self) -> bool:
        if not self._intake_empty():
            return False
        return self.store.in_flight_count() == 0 and not self.store.unremembered()
