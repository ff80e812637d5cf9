"""Memory end to end through the real daemon, webserver and embedding server: run workers embed
with the real all-MiniLM-L6-v2 by URL, a second mail from the same sender is drafted with what
the first one left in memory, and the archivist run launched through the webserver turns it
into facts."""

import json
import time
import urllib.request

import pytest
from support import REPO, SAMPLES, drop, priced_config

from opsbench.workbench import (
    dagster_commands,
    dagster_env,
    start_child,
    stop_children,
    wait_http,
)
from resources.llm.local_server import free_port
from resources.llm.stub_server import StubServer
from resources.memory import EPISODIC, FACTS, Memory
from resources.memory.embed_server import ensure_embed_server
from resources.settings.home import open_home
from resources.store import Store
from resources.web.keys import ui_auth_headers

pytestmark = pytest.mark.slow

FIRST = SAMPLES / "support-update-page.json"
SECOND = REPO / "tests" / "data" / "memory_followup" / "tomas-prices-again.json"
LAUNCH = """mutation($job: String!) { launchRun(executionParams: {
  selector: {repositoryLocationName: "opsbench", repositoryName: "__repository__", jobName: $job}
}) { __typename ... on LaunchRunSuccess { run { runId } }
     ... on PythonError { message } ... on InvalidSubsetError { message } } }"""


def _wait(condition, timeout_s: float, log) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("timed out:\n" + log.read_text()[-3000:])
        time.sleep(1)


def _rested(store: Store, count: int) -> bool:
    return len(store.items()) == count and store.in_flight_count() == 0 and not store.unremembered()


def test_second_mail_is_drafted_with_memory_of_the_first(tmp_path) -> None:
    home = open_home(tmp_path / "home")
    embeddings = ensure_embed_server(home)
    stub = StubServer().__enter__()
    env = dagster_env(home)
    env.update({"OPSBENCH_LLM": stub.url, "OPSBENCH_MODEL": "stub", "OPSBENCH_EMBEDDER": "local"})
    env["OPSBENCH_CONFIG"] = str(priced_config(tmp_path / "config.yaml"))
    port = free_port()
    commands = dagster_commands(port)
    children = [
        start_child(commands[name], tmp_path / f"{name}.log", env)
        for name in ("daemon", "webserver")
    ]
    try:
        assert wait_http(
            f"http://127.0.0.1:{port}/server_info", 120, headers=ui_auth_headers(home.root)
        )
        store = Store(home.store_url)
        drop(home.inbox, [FIRST])
        _wait(lambda: _rested(store, 1), 300, tmp_path / "daemon.log")
        drop(home.inbox, [SECOND])
        _wait(lambda: _rested(store, 2), 300, tmp_path / "daemon.log")

        memory = Memory(home.memory)
        assert memory.embedding(EPISODIC) == {
            "embedding_model": "all-MiniLM-L6-v2",
            "embedding_dim": "384",
        }
        first, second = sorted(store.items(), key=lambda i: i["created_at"])
        context = store.memory_context(second["id"], "reply_draft")
        assert context["embedder"] == "all-MiniLM-L6-v2"
        assert f"episodic:{first['id']}:item" in context["row_ids"]
        assert store.memory_context(first["id"], "reply_draft")["row_ids"] == []

        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/graphql",
            data=json.dumps({"query": LAUNCH, "variables": {"job": "consolidate_memory"}}).encode(),
            headers={"Content-Type": "application/json", **ui_auth_headers(home.root)},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            launched = json.loads(response.read())["data"]["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched

        def preference() -> list[dict]:
            return [f for f in memory.rows(FACTS) if f["kind"] == "preference"]

        _wait(preference, 240, tmp_path / "webserver.log")
        assert "phone call" in preference()[0]["text"]
        assert memory.embedding(FACTS)["embedding_model"] == "all-MiniLM-L6-v2"
    finally:
        stop_children(children)
        stub.__exit__(None, None, None)
        embeddings.stop()
