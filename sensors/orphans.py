"""Runs whose worker is gone: marked failed, so what waits on them moves on.

Dagster's default run launcher cannot check a run worker's health, so a SIGKILL of the whole
tree (or a power cut) leaves runs STARTED for ever, and with them the store locks they hold
(delivery, memory writers), their pool slots and their batches, which recovery waits on while
a run of theirs is unfinished. Each inbox sensor tick, the headless runner and `opsbench run`
at start look at unfinished runs: a run whose worker process (the pid of its RUN_START event)
no longer exists (or is a newer process under a recycled pid), or that never started within
`start_timeout_s`, is reported failed. Then the
locks count as free (their holder's run has finished), its pool slots are freed, Dagster's run
retry and batch recovery take over.

One machine only: a worker on another host (a distributed executor) is not seen here, and its
runs are left to Dagster's run monitoring."""

import os
import time
from pathlib import Path

import dagster as dg

from resources.processes import pid_alive

UNFINISHED = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]
START_TIMEOUT_S = 300.0


def run_start(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """The pid of the process that started executing the run, and when (its RUN_START)."""
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.RUN_START, limit=1
    ).records
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is not None and event.pid:
            return int(event.pid), record.event_log_entry.timestamp
    return None


def _process_started_at(pid: int) -> float | None:
    """When a process started (Linux /proc), to tell a recycled pid from the worker."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, StopIteration, IndexError, ValueError):
        return None


def _worker_alive(pid: int, run_started: float) -> bool:
    """Alive, and not a newer process that was given the dead worker's pid."""
    if not pid_alive(pid):
        return False
    started = _process_started_at(pid)
    return started is None or started <= run_started + 2.0  # /proc's clock ticks are coarse


def fail_orphaned_runs(
    instance: dg.DagsterInstance,
    *,
    start_timeout_s: float = START_TIMEOUT_S,
    now: float | None = None,
) -> list[str]:
    """Report every unfinished run whose worker is gone as failed; their ids."""
    now = time.time() if now is None else now
    failed = []
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=UNFINISHED)):
        run = record.dagster_run
        start = run_start(instance, run.run_id)
        if start is None:
            started = record.create_timestamp.timestamp()
            if now - started < start_timeout_s:
                continue  # launched, its worker still starting
            reason = f"its worker never started in {start_timeout_s:.0f}s"
        elif _worker_alive(*start):
            continue
        else:
            reason = f"its worker (pid {start[0]}) is gone: the process was killed"
        instance.report_run_failed(run, message=f"Opsbench marked this run failed: {reason}.")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        failed.append(run.run_id)
    return failed
