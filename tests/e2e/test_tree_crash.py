"""A crash of the whole tree is recovered, not waited on for ever: `opsbench run` is SIGKILLed
with every child (daemon, webserver, run workers) while delivery holds its lock inside a slow
SMTP DATA and a batch is mid-draft; a restart fails the dead runs, frees their locks, resumes
their batches, and every item rests — nothing accepted twice, the in-doubt send with the owner."""

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import dagster as dg
import pytest
from support import OPSBENCH, SmtpSink, json_mail, permissive_policy, priced_config

from opsbench.workbench import wait_http
from resources.llm.local_server import free_port
from resources.llm.stub_server import StubServer
from resources.store import Store
from resources.web.keys import ui_auth_headers

pytestmark = pytest.mark.slow


def _tree_of(home: Path) -> list[int]:
    """Every process working on this home (the CLI and all it started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if f"OPSBENCH_HOME={home}".encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _start(home: Path, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as handle:
        return subprocess.Popen(
            [*OPSBENCH, "run", "--llm", env["STUB_URL"], "--port", str(port), "--no-samples"],
            env=env,
            stdout=handle,
            stderr=handle,
            start_new_session=True,
        )


def _until(condition, timeout_s: float, what: str, log: Path) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    pytest.fail(f"{what} did not happen in {timeout_s:.0f}s:\n{log.read_text()[-3000:]}")


def test_a_sigkill_of_the_whole_tree_is_recovered_by_a_restart(tmp_path) -> None:
    home, port, log = tmp_path / "crashing-home", free_port(), tmp_path / "run.log"
    with SmtpSink(delay_s=600) as sink, StubServer(latency_s=2.0) as stub:
        # The client waits as long as the server stalls: with the default 30 s, a loaded
        # machine's wait for the second batch outlasted it, and the first send timed out
        # (in doubt) before the kill, then the second one too.
        smtp = {"enabled": True, "port": sink.port, "timeout_s": 900}
        config = priced_config(tmp_path / "config.yaml", smtp=smtp)
        env = {
            **os.environ,
            "OPSBENCH_HOME": str(home),
            "OPSBENCH_CONFIG": str(config),
            "OPSBENCH_POLICY": str(permissive_policy(tmp_path / "policy.yaml")),
            "OPSBENCH_MODEL": "stub",
            "STUB_URL": stub.url,
        }
        cli = _start(home, port, env, log)
        try:
            url = f"http://127.0.0.1:{port}/server_info"
            assert wait_http(url, 180, lambda: cli.poll() is None, headers=ui_auth_headers(home))
            inbox = home / "inbox"
            for n in range(2):
                json_mail(
                    inbox, f"first-{n}", f"ann{n}@client.example", "Login", "How do I reset it?"
                )
            # Delivery is inside SMTP DATA (the server holds the answer): its lock is held.
            _until(sink.data_started.is_set, 240, "a delivery reaching SMTP DATA", log)
            asked = stub.requests
            for n in range(2):
                json_mail(
                    inbox, f"second-{n}", f"bob{n}@client.example", "Login", "How do I reset it?"
                )
            _until(lambda: stub.requests > asked, 120, "a second batch reaching the model", log)
        finally:
            for pid in set(_tree_of(home)) - {os.getpid()}:  # a power cut, for processes
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            cli.wait()
        with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
            left = [
                r.run_id for r in instance.get_runs() if r.status == dg.DagsterRunStatus.STARTED
            ]
        assert left  # what the default run launcher would wait on for ever

        sink.delay_s = 0  # the mail server is fine again
        cli = _start(home, port, env, log)
        store = Store(f"sqlite:///{home / 'store.sqlite'}")
        try:
            _until(
                lambda: len(store.items()) == 4 and store.in_flight_count() == 0,
                180,
                "every item coming to rest",
                log,
            )
        finally:
            os.killpg(cli.pid, signal.SIGINT)
            cli.wait(timeout=60)
        with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
            for run_id in left:
                assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
        assert all(count == 1 for count in sink.message_ids().values())
        states = {i["source"]: (i["state"], i["reason_code"]) for i in store.items()}
        # The send cut off inside DATA may have arrived: it waits for the owner, never resent.
        assert ("awaiting_human", "delivery_unconfirmed") in states.values(), states
        delivered = [s for s in states.values() if s[0] == "delivered"]
        assert len(delivered) == 3, states  # the rest went out once, after the restart
