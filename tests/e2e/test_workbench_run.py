"""`opsbench run` (what `make run` calls): up on 127.0.0.1, and Ctrl-C — even twice — stops
every child, so no Dagster process or model server outlives it."""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from support import OPSBENCH

from opsbench.workbench import wait_http
from resources.llm.local_server import free_port
from resources.web.keys import ui_auth_headers

pytestmark = pytest.mark.slow


def _processes_of(home: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if f"OPSBENCH_HOME={home}".encode() in environ:
            found.append(int(entry.name))
    return found


def test_run_serves_the_ui_and_ctrl_c_twice_stops_everything(tmp_path) -> None:
    home, port = tmp_path / "home", free_port()
    # The embedded MiniLM for memory: its embedding server is one more child to stop.
    env = {**os.environ, "OPSBENCH_HOME": str(home), "OPSBENCH_EMBEDDER": "local"}
    parent = subprocess.Popen(
        [*OPSBENCH, "run", "--llm", "scripted", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # Started as a background job is: with SIGINT ignored. Ctrl-C must still work.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        assert wait_http(
            f"http://127.0.0.1:{port}/server_info",
            120,
            lambda: parent.poll() is None,
            headers=ui_auth_headers(home),
        )
        deadline = time.monotonic() + 30
        while not (home / ".seeded").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert (home / ".seeded").exists()  # a new home gets the sample inbox
        assert (home / "embed.url").exists()
        # The CLI, the daemon, the webserver and the embedding server.
        assert len(_processes_of(home)) >= 4
    finally:
        os.killpg(parent.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole group
        time.sleep(0.5)
        os.killpg(parent.pid, signal.SIGINT)  # and impatient operators press it twice
        try:
            _, err = parent.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(parent.pid, signal.SIGKILL)  # leave nothing behind for later tests
            parent.communicate()
            raise
    assert "stopping" in err
    deadline = time.monotonic() + 30
    while _processes_of(home) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _processes_of(home) == []
    assert not wait_http(f"http://127.0.0.1:{port}/server_info", 2)
