"""A run whose worker was SIGKILLed stays STARTED for ever under the default run launcher;
the orphan check marks it failed, so the locks it held and the batch it ran move on."""

import os
import signal
import subprocess
import sys
import time

import dagster as dg

from ops_assets.agents.agent_run import lock_holder_gone
from sensors.orphans import fail_orphaned_runs

WORKER = """
import sys, time
import dagster as dg

@dg.op
def hang() -> None:
    print("started", flush=True)
    time.sleep(600)

@dg.job
def hanging():
    hang()

with dg.DagsterInstance.get() as instance:
    hanging.execute_in_process(instance=instance)
"""


def _start_worker(dagster_home) -> subprocess.Popen[str]:  # type: ignore[no-untyped-def]
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER],
        env={**os.environ, "DAGSTER_HOME": str(dagster_home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert worker.stdout is not None and worker.stdout.readline().strip() == "started"
    return worker


def test_a_run_whose_worker_was_killed_is_failed_and_frees_its_locks(tmp_path) -> None:
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    killed, living = _start_worker(dagster_home), _start_worker(dagster_home)
    try:
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait()
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            runs = {r.run_id: r for r in instance.get_runs()}
            assert {r.status for r in runs.values()} == {dg.DagsterRunStatus.STARTED}
            gone = lock_holder_gone(instance)
            assert not any(gone(run_id) for run_id in runs)  # the dead run holds its locks

            failed = fail_orphaned_runs(instance)

            assert len(failed) == 1
            (dead_run,) = failed
            assert instance.get_run_by_id(dead_run).status == dg.DagsterRunStatus.FAILURE
            (alive_run,) = set(runs) - {dead_run}
            assert instance.get_run_by_id(alive_run).status == dg.DagsterRunStatus.STARTED
            assert gone(dead_run) and not gone(alive_run)
            assert fail_orphaned_runs(instance) == []  # once
    finally:
        for worker in (killed, living):
            if worker.poll() is None:
                worker.kill()
            worker.wait()
            if worker.stdout is not None:
                worker.stdout.close()


def test_a_run_that_never_started_is_failed_only_after_the_timeout(tmp_path) -> None:
    @dg.op
    def noop() -> None:
        pass

    @dg.job
    def never_started():
        noop()

    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        run = instance.create_run_for_job(never_started, status=dg.DagsterRunStatus.STARTING)
        assert fail_orphaned_runs(instance, start_timeout_s=300) == []
        later = time.time() + 301
        assert fail_orphaned_runs(instance, start_timeout_s=300, now=later) == [run.run_id]
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
