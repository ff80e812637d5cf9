"""End to end on the real local model (llama.cpp behind the `openai` client), then the same
run replayed from its recording in a fresh home with zero live calls."""

import json
import shutil
import subprocess

import pytest
from support import OPSBENCH, SAMPLES

from resources.llm.endpoints import LOCAL_MODEL
from resources.settings.config import SAMPLE_CONFIG
from resources.store import RESTING, Store

pytestmark = pytest.mark.slow

PICKED = ("support-login-problem.eml", "support-update-page.json", "billing-invoice-question.eml")


def _demo(home, inbox, llm, config, *extra) -> dict:
    done = subprocess.run(
        [
            *OPSBENCH,
            "demo",
            "--inbox",
            str(inbox),
            "--home",
            str(home),
            "--llm",
            llm,
            "--config",
            str(config),
            "--json",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def _outcomes(home) -> dict[str, tuple]:
    store = Store(f"sqlite:///{home / 'store.sqlite'}")
    outcomes = {}
    for item in store.items():
        draft = store.get_output(item["id"], "reply_draft")
        outcomes[item["source"]] = (
            item["state"],
            item["category"],
            item["reason_code"],
            draft["output"]["body"] if draft and draft["output"] else None,
        )
    return outcomes


def test_local_model_triages_drafts_and_replays_without_live_calls(
    tmp_path, local_model, monkeypatch
) -> None:
    local_model_url, key = local_model
    inbox = tmp_path / "in"
    inbox.mkdir()
    for name in PICKED:
        shutil.copy2(SAMPLES / name, inbox / name)
    config = tmp_path / "one-at-a-time.yaml"
    config.write_text(SAMPLE_CONFIG.read_text().replace("model_calls: null ", "model_calls: 1 "))
    monkeypatch.setenv("OPSBENCH_MODEL", LOCAL_MODEL)
    monkeypatch.setenv("OPSBENCH_API_KEY", key)  # another home's server: its key, as a base URL
    recording = tmp_path / "run.jsonl"

    live = _demo(tmp_path / "live", inbox, local_model_url, config, "--record", str(recording))
    assert live["live_calls"] == live["model_calls"] > 0
    store = Store(f"sqlite:///{tmp_path / 'live' / 'store.sqlite'}")
    for item in store.items():
        assert item["state"] in RESTING
        triage = store.get_output(item["id"], "triage")
        assert triage["valid"], (item["source"], triage["failure"])  # schema-valid triage
        assert triage["output"]["category"] in ("billing", "support", "sales", "spam", "other")
    drafts = [store.get_output(i["id"], "reply_draft") for i in store.items()]
    assert any(d and d["valid"] for d in drafts), [d and d["failure"] for d in drafts]

    replayed = _demo(tmp_path / "replay", inbox, f"replay:{recording}", config)
    assert replayed["live_calls"] == 0
    assert replayed["model_calls"] == live["model_calls"]
    assert _outcomes(tmp_path / "replay") == _outcomes(tmp_path / "live")


def test_a_stale_server_left_by_a_crash_is_replaced_and_a_live_one_reused(tmp_path) -> None:
    from resources.llm.local_server import ensure_server, free_port, healthy
    from resources.llm.weights import prepare
    from resources.settings.home import open_home

    home = open_home(tmp_path / "h")
    dead = subprocess.Popen(["true"])
    dead.wait()
    (home.root / "llm.pid").write_text(str(dead.pid))
    (home.root / "llm.url").write_text(f"http://127.0.0.1:{free_port()}/v1")
    server = ensure_server(home, prepare(), log=lambda _m: None)
    try:
        assert server.started and healthy(server.url)
        # Any page the owner visits can reach 127.0.0.1: without the home's key, nothing.
        import urllib.error
        import urllib.request

        request = urllib.request.Request(
            f"{server.url}/chat/completions",
            data=b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}',
            headers={"Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        refused.value.close()  # the error is the response: release its socket
        assert refused.value.code == 401
        assert (home.root / "llm.url").read_text() == server.url
        again = ensure_server(home, prepare(), log=lambda _m: None)
        assert (again.started, again.pid, again.url) == (False, server.pid, server.url)
    finally:
        server.stop()
    assert not healthy(server.url)
