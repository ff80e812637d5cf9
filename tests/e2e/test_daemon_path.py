"""End to end through the real Dagster daemon and webserver: files dropped into the inbox are
claimed by the sensor, run by daemon-launched runs, and delivered — no in-process shortcut."""

import json
import subprocess
import time
import urllib.request

import pytest
from support import CANARIES, OPSBENCH, SAMPLES, assert_no_canary, drop, priced_config

from opsbench.workbench import (
    dagster_commands,
    dagster_env,
    start_child,
    stop_children,
    wait_http,
)
from resources.llm.local_server import free_port
from resources.llm.stub_server import StubServer
from resources.settings.home import open_home
from resources.store import Store
from resources.web.keys import ui_auth_headers

pytestmark = pytest.mark.slow

RUNS_QUERY = """{ runsOrError { ... on Runs { results { runId jobName status
  tags { key value } } } } }"""


def _graphql(port: int, query: str, home) -> dict:  # type: ignore[no-untyped-def]
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json", **ui_auth_headers(home.root)},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_dropped_mail_is_delivered_by_sensor_launched_runs(tmp_path) -> None:
    home = open_home(tmp_path / "home")
    env = dagster_env(home)
    stub = StubServer().__enter__()
    # Run workers reach a real HTTP endpoint with a canary key that must never be written.
    env.update({"OPSBENCH_LLM": stub.url, "OPSBENCH_MODEL": "stub", **CANARIES})
    env["OPSBENCH_CONFIG"] = str(priced_config(tmp_path / "config.yaml"))
    port = free_port()
    commands = dagster_commands(port)
    children = [
        start_child(commands[name], tmp_path / f"{name}.log", env)
        for name in ("daemon", "webserver")
    ]
    try:
        up = wait_http(
            f"http://127.0.0.1:{port}/server_info", 120, headers=ui_auth_headers(home.root)
        )
        assert up, (tmp_path / "webserver.log").read_text()[-3000:]
        # A new home's first triage classifier comes from the daemon's retrain sensor; mail
        # triaged before it exists would be stale after it (and reprocess would re-run it).
        from ops_assets.defs.triage.classifier import default_path

        trained = time.monotonic() + 240
        while not default_path(home.root).exists() and time.monotonic() < trained:
            time.sleep(1)
        assert default_path(home.root).exists(), (tmp_path / "daemon.log").read_text()[-3000:]
        drop(home.inbox, sorted(SAMPLES.iterdir()))
        store = Store(home.store_url)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            items = store.items()
            if (
                len(items) == len(list(SAMPLES.iterdir()))
                and store.in_flight_count() == 0
                and not store.unremembered()
            ):
                break
            time.sleep(1)
        else:
            pytest.fail(
                "items did not rest in time:\n" + (tmp_path / "daemon.log").read_text()[-3000:]
            )

        delivered = store.items(states=["delivered"])
        assert delivered
        assert len(list(home.outbox.glob("*.eml"))) == len(delivered)
        runs = _graphql(port, RUNS_QUERY, home)["data"]["runsOrError"]["results"]
        by_job: dict[str, list[dict]] = {}
        for run in runs:
            by_job.setdefault(run["jobName"], []).append(run)
        assert {"process_batch", "deliver_and_remember"} <= set(by_job)
        for run in by_job["process_batch"]:
            tags = {t["key"]: t["value"] for t in run["tags"]}
            assert tags["dagster/sensor_name"] == "inbox_sensor"
            assert tags["opsbench/batch"] == tags["dagster/partition"]
            assert run["status"] == "SUCCESS"

        # Reprocess through the live webserver: a real backfill that the daemon runs, every
        # answer from the call ledger, nothing changed, nothing sent again.
        asked, sent = stub.requests, sorted(p.name for p in home.outbox.iterdir())
        live = ["--ui", f"http://127.0.0.1:{port}", "--json", "--timeout", "240"]
        done = subprocess.run(
            [*OPSBENCH, "reprocess", "--agent", "triage", "--home", str(home.root), *live],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        summary = json.loads(done.stdout)
        assert summary["backfill_id"] and summary["runs"]
        assert summary["status"] in ("COMPLETED", "COMPLETED_SUCCESS")
        assert (summary["model_calls"], summary["changed"]) == (0, 0)
        assert summary["cache_hits"] > 0
        assert stub.requests == asked
        assert sorted(p.name for p in home.outbox.iterdir()) == sent
    finally:
        stop_children(children)
        stub.__exit__(None, None, None)
    assert all(child.poll() is not None for child in children)
    assert stub.authorizations == {f"Bearer {CANARIES['OPSBENCH_API_KEY']}"}
    assert_no_canary(home.root)
