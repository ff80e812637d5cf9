"""Dagster at scale, by configuration (deploy/): run and event storage on a Postgres database of
its own, every step a celery task on two worker processes behind a RabbitMQ vhost of its own,
runs launched by the real daemon — and one worker SIGKILLed while it has model calls in flight.

What must hold after recovery: every item rests in a final state, no reply went out twice (the
SMTP sink counts Message-IDs), and the model was paid again for no more requests than the dead
worker had claimed when it died (the store's call claims; the stub counts requests per hash).
The Opsbench store stays on SQLite here (its Postgres backend is another piece of work)."""

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml
from support import SmtpSink, json_mail, permissive_policy, priced_config

from opsbench.workbench import dagster_commands, start_child, stop_children
from resources.llm.local_server import free_port
from resources.llm.stub_server import StubServer
from resources.settings.home import REPO_ROOT, open_home
from resources.store import Store
from resources.store import schema as t
from resources.store.states import RESTING

pytestmark = pytest.mark.slow

DEPLOY = REPO_ROOT / "deploy"
BIN = Path(sys.executable).parent
POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432"
MAILS = 12


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A database of this test's own on the machine's Postgres, dropped afterwards."""
    name = f"opsbench_celery_{secrets.token_hex(4)}"
    admin = sa.create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def broker_url() -> Iterator[str]:
    """A RabbitMQ vhost of this test's own (queues and all go with it afterwards)."""
    vhost = f"opsbench-{secrets.token_hex(4)}"
    ctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    subprocess.run([ctl, "add_vhost", vhost], check=True, capture_output=True, timeout=60)
    try:
        subprocess.run(
            [ctl, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        yield f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    finally:
        subprocess.run([ctl, "delete_vhost", vhost], check=False, capture_output=True, timeout=60)


def _scale_home(root: Path) -> Path:
    """A DAGSTER_HOME with the profile exactly as deploy/ ships it."""
    root.mkdir(parents=True)
    shutil.copyfile(DEPLOY / "dagster-scale.yaml", root / "dagster.yaml")
    shutil.copyfile(DEPLOY / "celery.yaml", root / "celery.yaml")
    return root


def _mails(folder: Path) -> list[Path]:
    kinds = [
        ("support", "I cannot log in to my account since this morning, can you help?"),
        ("billing", "I was charged twice for my invoice this month, please refund one."),
    ]
    return [
        json_mail(
            folder,
            f"mail-{n:02d}",
            f"client{n}@example{n}.com",
            f"Question {n} about {kinds[n % 2][0]}",
            kinds[n % 2][1],
        )
        for n in range(MAILS)
    ]


def _worker(name: str, dagster_home: Path, log: Path, env: dict[str, str]):  # type: ignore[no-untyped-def]
    command = [
        str(BIN / "dagster-celery"),
        "worker",
        "start",
        "-A",
        "dagster_celery.app",
        "-y",
        str(dagster_home / "celery.yaml"),
        "-n",
        name,
        "--",
        # Celery's default pool, one child: the step runs in a child of the process that holds
        # the broker channel (with the solo pool an early ack may sit unsent while the step
        # blocks, and a dead worker's task come back whatever celery.yaml says).
        "--pool=prefork",
        "--concurrency=1",
    ]
    return start_child(command, log, env)


def _group_pids(pgid: int) -> set[int]:
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after the name: state, ppid, pgrp
            pids.add(int(stat.parent.name))
    return pids


def _stop_leftovers(dagster_home: Path) -> None:
    """Processes of this instance that outlived their parents (a code server the daemon
    started, a run worker whose step died): this test started them, so it ends them."""
    mark = f"DAGSTER_HOME={dagster_home}".encode()
    pids = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if (
                mark in environ.read_bytes().split(b"\0")
                and int(environ.parent.name) != os.getpid()
            ):
                pids.append(int(environ.parent.name))
        except OSError:
            continue
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 10
        while sig == signal.SIGTERM and time.monotonic() < deadline:
            if not any(Path(f"/proc/{pid}").exists() for pid in pids):
                return
            time.sleep(0.1)


def _claims(store_url: str) -> list[dict]:
    engine = sa.create_engine(store_url)
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(t.model_call_claims.select())]
    finally:
        engine.dispose()


def _wait_for(predicate, timeout_s: float, what: str, logs: list[Path]) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    tails = "\n".join(f"--- {p.name}\n{p.read_text()[-2500:]}" for p in logs if p.exists())
    pytest.fail(f"{what} did not happen in {timeout_s:.0f} s\n{tails}")


def _celery_steps(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str, str]]:
    """(step key, worker name) of every step a celery worker started for this run, in order
    (dagster-celery's "Executing steps ... in celery worker" engine event)."""
    started = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        event = entry.dagster_event
        data = event.event_specific_data if event else None
        metadata = getattr(data, "metadata", None) or {}
        worker = metadata.get("Celery worker")
        if worker is not None and entry.step_key:
            started.append((entry.step_key, str(worker.value).split("@")[0]))
    return started


def _unfinished_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    return list(
        instance.get_runs(
            filters=dg.RunsFilter(
                statuses=[
                    dg.DagsterRunStatus.QUEUED,
                    dg.DagsterRunStatus.NOT_STARTED,
                    dg.DagsterRunStatus.STARTING,
                    dg.DagsterRunStatus.STARTED,
                ]
            )
        )
    )


def test_a_worker_killed_mid_batch_loses_nothing_and_pays_nothing_twice(
    tmp_path: Path, postgres_url: str, broker_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = open_home(tmp_path / "home")
    dagster_home = _scale_home(tmp_path / "dagster-scale")
    with SmtpSink() as sink, StubServer(latency_s=1.0) as stub:
        config = priced_config(
            tmp_path / "config.yaml",
            smtp={"enabled": True, "port": sink.port, "rate_per_minute": None},
        )
        settings = yaml.safe_load(config.read_text())
        settings["batching"] = {"max_items": 4, "max_wait_s": 0}  # three batches, three runs
        config.write_text(yaml.safe_dump(settings))
        env = dict(os.environ)
        env.update(
            {
                "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
                "DAGSTER_HOME": str(dagster_home),
                "DAGSTER_POSTGRES_URL": postgres_url,
                "CELERY_BROKER_URL": broker_url,
                "OPSBENCH_HOME": str(home.root),
                "OPSBENCH_LLM": stub.url,
                "OPSBENCH_MODEL": "stub",
                "OPSBENCH_CONFIG": str(config),
                "OPSBENCH_POLICY": str(permissive_policy(tmp_path / "policy.yaml")),
                "DAGSTER_DISABLE_TELEMETRY": "1",
            }
        )
        logs = {name: tmp_path / f"{name}.log" for name in ("a", "b", "daemon")}
        workers = {
            name: _worker(f"opsbench-{name}", dagster_home, logs[name], env) for name in ("a", "b")
        }
        children = list(workers.values())
        try:
            for name in workers:
                _wait_for(
                    lambda name=name: " ready." in logs[name].read_text(),
                    120,
                    f"worker {name} start",
                    list(logs.values()),
                )
            children.append(
                start_child(dagster_commands(free_port())["daemon"], logs["daemon"], env)
            )
            _mails(home.inbox)
            store = Store(home.store_url)

            # Kill the worker whose process holds a model-call claim: a step mid-flight.
            groups = {name: _group_pids(w.pid) for name, w in workers.items()}
            victim: list[str] = []

            def claimed_by_a_worker() -> bool:
                held = {c["pid"] for c in _claims(home.store_url)}
                victim.extend(n for n, pids in groups.items() if held & pids)
                return bool(victim)

            _wait_for(claimed_by_a_worker, 240, "a model call on a worker", list(logs.values()))
            dead = workers[victim[0]]
            os.killpg(dead.pid, signal.SIGKILL)
            dead.wait()
            in_flight = [c for c in _claims(home.store_url) if c["pid"] in groups[victim[0]]]
            assert in_flight, "the killed worker held no model call"

            def rested() -> bool:
                items = store.items()
                return (
                    len(items) == MAILS
                    and store.in_flight_count() == 0
                    and not store.unremembered()
                )

            _wait_for(rested, 300, "every item at rest", list(logs.values()))
            # Stop nothing mid-run: what the daemon launched last (outcome roll-ups) ends first.
            monkeypatch.setenv("DAGSTER_POSTGRES_URL", postgres_url)
            instance = dg.DagsterInstance.from_config(str(dagster_home))
            _wait_for(
                lambda: not _unfinished_runs(instance), 180, "runs to end", list(logs.values())
            )
        finally:
            stop_children(children)
            _stop_leftovers(dagster_home)

    items = store.items()
    # 0 lost: every mail is an item, each in a state it rests in.
    assert len(items) == MAILS
    assert {i["state"] for i in items} <= set(RESTING), Counter(i["state"] for i in items)
    delivered = store.items(states=["delivered"])
    assert delivered, Counter(i["state"] for i in items)
    # 0 sent twice: one SMTP message per delivered item, no Message-ID twice.
    assert len(sink.messages) == len(delivered)
    assert set(sink.message_ids().values()) == {1}
    # Paid again for at most what was in flight on the dead worker.
    paid_again = sum(n - 1 for n in stub.by_hash.values())
    assert paid_again <= len(in_flight), (paid_again, len(in_flight))

    # The killed step was not left to a new run: its task went back to the broker unacked and
    # the other worker ran it again, in the same run, which then succeeded like every other.
    survivor, killed = ("b" if victim[0] == "a" else "a"), f"opsbench-{victim[0]}"
    with instance:
        runs = instance.get_runs()
        assert {r.job_name for r in runs} >= {"process_batch", "deliver_and_remember"}
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs), [
            (r.job_name, r.status) for r in runs
        ]
        steps = {r.run_id: _celery_steps(instance, r.run_id) for r in runs}
    by_worker = Counter(worker for started in steps.values() for _, worker in started)
    assert set(by_worker) == {"opsbench-a", "opsbench-b"}, by_worker
    rerun = [
        (run_id, key)
        for run_id, started in steps.items()
        for n, (key, worker) in enumerate(started)
        if worker == killed and (key, f"opsbench-{survivor}") in started[n + 1 :]
    ]
    assert len(rerun) == 1, steps
