"""Invariant 6, the canary search: with canary values in every secret variable the project
reads, a run and everything an operator does afterwards leaves zero copies under the home —
store, LanceDB files, Dagster storage and logs, outbox, recordings, notebook outputs."""

import json
import os
import subprocess

import nbclient
import nbformat
import pytest
from support import CANARIES, OPSBENCH, REPO, SAMPLES, assert_no_canary

from resources.llm.stub_server import StubServer

pytestmark = pytest.mark.slow


def test_canary_secrets_are_used_but_never_written(tmp_path, monkeypatch) -> None:
    home, recording = tmp_path / "h", tmp_path / "h" / "run.jsonl"
    env = {**os.environ, **CANARIES, "OPSBENCH_MODEL": "stub", "OPSBENCH_HOME": str(home)}
    printed = ""
    with StubServer() as server:
        done = subprocess.run(
            [
                *OPSBENCH,
                "demo",
                "--inbox",
                str(SAMPLES),
                "--llm",
                server.url,
                "--record",
                str(recording),
                "--json",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["live_calls"] > 0
        printed += done.stdout + done.stderr
        for verb in (["items", "--json"], ["status", "--json"], ["approvals", "--json"]):
            shown = subprocess.run(
                [*OPSBENCH, *verb], capture_output=True, text=True, env=env, timeout=120, check=True
            )
            printed += shown.stdout + shown.stderr
    # The key went where it belongs (the endpoint) and only there.
    assert server.authorizations == {f"Bearer {CANARIES['OPSBENCH_API_KEY']}"}

    notebook = nbformat.read(REPO / "notebooks" / "overview.ipynb", as_version=4)
    for name, value in {**CANARIES, "OPSBENCH_HOME": str(home)}.items():
        monkeypatch.setenv(name, value)  # the kernel inherits them, as an operator's would
    client = nbclient.NotebookClient(
        notebook, kernel_name="opsbench", timeout=300, resources={"metadata": {"path": str(home)}}
    )
    client.execute()
    nbformat.write(notebook, home / "overview.executed.ipynb")
    assert_no_canary(home, printed)
