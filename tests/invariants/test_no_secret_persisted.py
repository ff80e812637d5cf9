"""Invariant 6: a key given through the environment never lands in the home — store, Dagster
storage and logs, memory, outbox — nor in a recording."""

import json
import os
import subprocess

import pytest
from support import OPSBENCH, SAMPLES

from resources.llm.stub_server import StubServer

pytestmark = pytest.mark.slow

KEY = "sk-opsbench-test-" + "x" * 32


def test_the_api_key_is_used_but_never_written(tmp_path) -> None:
    home, recording = tmp_path / "h", tmp_path / "run.jsonl"
    with StubServer() as server:
        env = {**os.environ, "OPENAI_API_KEY": KEY, "OPSBENCH_MODEL": "stub"}
        done = subprocess.run(
            [
                *OPSBENCH,
                "demo",
                "--inbox",
                str(SAMPLES),
                "--home",
                str(home),
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
    assert server.authorizations == {f"Bearer {KEY}"}  # used where it belongs
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["live_calls"] > 0
    assert KEY not in done.stdout + done.stderr
    for path in [*home.rglob("*"), recording]:
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
