"""`POST /intake` through a real uvicorn on 127.0.0.1 serving the owner's composed, guarded
app (a trivial app stands in for Dagster's UI), with httpx: a bad token is 401, an oversize
body 413, a malformed item 400 with its reason, a repeated Idempotency-Key one item; a JSON
form post (mapped) and a raw RFC 822 message each become a registered work item."""

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from opsbench.ui_server import composed_app
from resources.llm.local_server import free_port
from resources.settings.home import Home, open_home
from resources.settings.http_intake import HttpIntake, HttpSource
from resources.store import Store
from resources.store.resource import store_for
from resources.web import GuardedApp

TOKEN = "form-token-0123456789"
UI_TOKEN = "ui-token-not-for-intake"
SETTINGS = HttpIntake(
    sources={
        "contact": HttpSource(
            token_env="OPSBENCH_TEST_FORM_TOKEN",
            mapping={"from": "email", "body": "message", "subject": "topic"},
        )
    },
    max_bytes=4_000,
)
RAW = (
    b"From: Kim <kim@client.example>\r\nTo: owner@acme.example\r\nSubject: Invoice\r\n"
    b"Message-ID: <raw-1@client.example>\r\n\r\nWhere is my invoice?\r\n"
)


async def _dagster_stand_in(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"dagster"})


@dataclass
class Server:
    home: Home
    store: Store
    client: httpx.Client


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("OPSBENCH_TEST_FORM_TOKEN", TOKEN)
    home = open_home(tmp_path / "home")
    port = free_port()
    # The routes read the settings from the config; the config model gains `intake.http`
    # separately, so the test hands them in.
    import opsbench.intake_http as intake_http

    real_routes = intake_http.intake_routes
    monkeypatch.setattr(intake_http, "intake_routes", lambda h: real_routes(h, SETTINGS))
    app = GuardedApp(
        composed_app(home, _dagster_stand_in),
        port=port,
        token=UI_TOKEN,
        public_paths=frozenset({"/intake"}),
    )
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=20) as client:
            yield Server(home, store_for(home.store_url), client)
    finally:
        uv.should_exit = True
        thread.join(20)


def _post(server: Server, body: bytes | dict, *, token: str = TOKEN, **headers: str):  # type: ignore[no-untyped-def]
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    if isinstance(body, dict):
        return server.client.post("/intake", json=body, headers={**auth, **headers})
    return server.client.post("/intake", content=body, headers={**auth, **headers})


FORM = {"email": "Kim <kim@client.example>", "topic": "Quote", "message": "Price for 3 seats?"}


def test_a_mapped_form_post_becomes_one_item_and_a_repeated_key_stays_one(server) -> None:
    first = _post(server, {**FORM, "phone": "555"}, **{"Idempotency-Key": "form-42"})
    assert first.status_code == 202, first.text
    item_id = first.json()["item_id"]
    item = server.store.get_item(item_id)
    assert item is not None and first.json()["state"] == item["state"] == "received"
    assert (item["sender"], item["subject"], item["body"]) == (
        "kim@client.example",
        "Quote",
        "Price for 3 seats?",
    )
    assert item["headers"]["opsbench:intake"]["fields"] == {"phone": "555"}
    assert Path(item["original_path"]).is_file()  # kept like any dropped file
    assert server.store.pending_batches()  # the inbox sensor launches its run

    again = _post(server, {**FORM, "message": "changed"}, **{"Idempotency-Key": "form-42"})
    assert again.status_code == 202
    assert again.json()["item_id"] == item_id
    assert again.headers["idempotent-replayed"] == "true"
    assert len(server.store.items()) == 1

    other = _post(server, FORM, **{"Idempotency-Key": "form-43"})
    assert other.status_code == 202 and other.json()["item_id"] != item_id
    # Same message again under another key: registered, as the files' intake would, as a
    # duplicate of the first.
    assert other.json()["state"] == "duplicate"


def test_a_raw_rfc822_message_is_registered_with_its_headers(server) -> None:
    answer = _post(server, RAW, **{"Content-Type": "message/rfc822"})
    assert answer.status_code == 202, answer.text
    item = server.store.get_item(answer.json()["item_id"])
    assert item is not None
    assert (item["kind"], item["message_id"], item["subject"]) == (
        "eml",
        "<raw-1@client.example>",
        "Invoice",
    )


@pytest.mark.parametrize("token", ["", "wrong-token", UI_TOKEN])
def test_a_missing_or_wrong_token_is_401_and_registers_nothing(server, token: str) -> None:
    answer = _post(server, FORM, token=token)
    assert answer.status_code == 401
    assert answer.json() == {"error": "token_required"}
    assert server.store.items() == []


def test_an_oversize_body_is_413(server) -> None:
    answer = _post(server, {**FORM, "message": "x" * 5_000})
    assert answer.status_code == 413
    assert answer.json()["error"] == "request_too_large"
    assert server.store.items() == []


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b'{"email": "kim@client.example"', "application/json", "not valid JSON"),
        (b'{"email": "kim@client.example"}', "application/json", "'body' is missing"),
        (b'{"message": 42}', "application/json", "field 'body': Input should be a valid string"),
        (b"[1, 2]", "application/json", "expected an object"),
        (b"\x00\x01 no headers", "message/rfc822", ""),
    ],
)
def test_a_malformed_item_is_400_with_the_first_reason_as_one_line(
    server, body: bytes, content_type: str, reason: str
) -> None:
    answer = _post(server, body, **{"Content-Type": content_type})
    assert answer.status_code == 400, answer.text
    error = answer.json()
    assert reason in error["reason"] and "\n" not in error["reason"]
    assert server.store.items() == []


def test_other_types_are_415_and_other_paths_stay_behind_the_ui_token(server) -> None:
    answer = _post(server, b"email=kim", **{"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 415
    assert server.client.get("/runs").status_code == 401  # the intake token opens nothing else
    shown = server.client.get("/runs", headers={"Authorization": f"Bearer {UI_TOKEN}"})
    assert shown.status_code == 200 and shown.text == "dagster"
    # The guard lets /intake through without the UI token: no method may reach Dagster's UI.
    for method in ("GET", "PUT", "DELETE", "OPTIONS"):
        refused = server.client.request(method, "/intake")
        assert refused.status_code == 405 and refused.text != "dagster"


def test_the_sources_come_from_the_config_file(tmp_path: Path) -> None:
    import yaml

    from opsbench.intake_http import http_settings
    from resources.settings.config import SAMPLE_CONFIG, ConfigError, load_config

    raw = yaml.safe_load(SAMPLE_CONFIG.read_text())
    assert http_settings(load_config(SAMPLE_CONFIG)).sources == {}  # none: all refused
    raw["intake"]["http"] = {
        "sources": {"contact": {"token_env": "FORM_TOKEN", "mapping": {"from": "email"}}}
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert http_settings(load_config(path)).sources["contact"].mapping == {"from": "email"}
    raw["intake"]["http"]["sources"]["contact"]["mapping"] = {"sender": "email"}
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError):
        load_config(path)  # a field the work-item contract does not have
