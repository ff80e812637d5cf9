"""The local web surface lets in only the owner's own tools: against the real webserver and
daemon, what any page the owner visits could send — a form post, a GET mutation, a request
under a foreign Host (DNS rebinding) or from a foreign Origin, a launch whose run config points
the model at another server — is refused, launches nothing and reaches nobody."""

import http.client
import json
import time
import urllib.parse

import dagster as dg
import pytest
from support import CANARIES

from opsbench.workbench import dagster_commands, dagster_env, start_child, stop_children
from resources.llm.local_server import free_port
from resources.llm.stub_server import StubServer
from resources.settings.home import open_home

pytestmark = pytest.mark.slow

LAUNCH = """mutation Launch($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""


def _launch_params(capture_url: str) -> dict:
    return {
        "selector": {
            "repositoryLocationName": "opsbench",
            "repositoryName": "__repository__",
            "jobName": "consolidate_memory",
        },
        "runConfigData": {"resources": {"llm": {"config": {"spec": capture_url}}}},
    }


def _request(
    port: int,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes, dict[str, str]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        connection.close()


def _wait_up(port: int, children: list, log) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert all(c.poll() is None for c in children), log.read_text()[-3000:]
        try:
            status, _, _ = _request(port, "GET", "/server_info")
            if status in (200, 401):
                return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail("the webserver did not come up:\n" + log.read_text()[-3000:])


def test_pages_the_owner_visits_cannot_launch_runs_or_redirect_the_model(tmp_path) -> None:
    home = open_home(tmp_path / "home")
    env = dagster_env(home)
    capture = StubServer().__enter__()
    env.update({"OPSBENCH_LLM": "scripted", **CANARIES})
    port = free_port()
    commands = dagster_commands(port)
    children = [
        start_child(commands[name], tmp_path / f"{name}.log", env)
        for name in ("daemon", "webserver")
    ]
    own_host = f"127.0.0.1:{port}"
    try:
        _wait_up(port, children, tmp_path / "webserver.log")
        mutation = json.dumps(
            {"query": LAUNCH, "variables": {"params": _launch_params(capture.url)}}
        )
        in_url = urllib.parse.urlencode(
            {"query": LAUNCH, "variables": json.dumps({"params": _launch_params(capture.url)})}
        )
        attacks = {
            # What an HTML form on any page sends: text/plain, no preflight, mutation in the URL.
            "form post": (
                "POST",
                f"/graphql?{in_url}",
                b"x=1",
                {"Content-Type": "text/plain", "Origin": "http://evil.example"},
            ),
            # An <img> or a link: a GET with the mutation in the URL.
            "get mutation": ("GET", f"/graphql?{in_url}", None, {}),
            # A page on a domain that resolves to 127.0.0.1 (DNS rebinding).
            "foreign host": (
                "POST",
                "/graphql",
                mutation.encode(),
                {"Content-Type": "application/json", "Host": f"evil.example:{port}"},
            ),
            # A neighbour's page on another port of 127.0.0.1.
            "foreign origin": (
                "POST",
                "/graphql",
                mutation.encode(),
                {"Content-Type": "application/json", "Origin": "http://127.0.0.1:8888"},
            ),
            "no token": (
                "POST",
                "/graphql",
                mutation.encode(),
                {"Content-Type": "application/json"},
            ),
        }
        answers = {
            name: _request(port, method, path, body=body, headers={"Host": own_host, **extra})[0]
            for name, (method, path, body, extra) in attacks.items()
        }
        assert answers == {
            "form post": 403,
            "get mutation": 403,
            "foreign host": 403,
            "foreign origin": 403,
            "no token": 401,
        }

        # With the owner's own token: a query works, a run config that redirects the model is
        # refused before any run exists, and the refusal is audited.
        from opsbench.ui_server import auth_headers

        owner = {"Host": own_host, "Content-Type": "application/json", **auth_headers(home)}
        status, body, _ = _request(
            port, "POST", "/graphql", body=b'{"query": "{ version }"}', headers=owner
        )
        assert status == 200 and json.loads(body)["data"]["version"]
        status, _, _ = _request(port, "POST", "/graphql", body=mutation.encode(), headers=owner)
        assert status == 403
        # The same redirect as YAML text inside the variables is refused as well.
        as_yaml = {**_launch_params(capture.url), "runConfigData": "resources: {llm: {}}"}
        yaml_body = json.dumps({"query": LAUNCH, "variables": {"params": as_yaml}}).encode()
        assert _request(port, "POST", "/graphql", body=yaml_body, headers=owner)[0] == 403

        # A browser logs in once with the printed link and then carries an HttpOnly cookie.
        from resources.web.keys import UI_TOKEN, home_key

        token = home_key(home.root, UI_TOKEN)
        status, _, cookie_headers = _request(
            port, "GET", f"/login?token={token}", headers={"Host": own_host}
        )
        cookie = cookie_headers.get("set-cookie") or cookie_headers.get("Set-Cookie") or ""
        assert status == 303 and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert _request(port, "GET", "/login?token=wrong", headers={"Host": own_host})[0] == 401
        browser = {"Host": own_host, "Cookie": cookie.split(";")[0]}
        assert _request(port, "GET", "/server_info", headers=browser)[0] == 200

        from ops_assets.defs.jobs import RETRAIN_JOB

        with dg.DagsterInstance.from_config(str(home.dagster)) as instance:
            # The daemon's own retrain sensor trains a new home's first classifier; nothing
            # else may have run.
            assert [r.job_name for r in instance.get_runs() if r.job_name != RETRAIN_JOB] == []
        time.sleep(2)  # a launched run would have reached the capture server by now
        assert capture.requests == 0
        from resources.store import Store

        refused = Store(home.store_url).audit_for_event("run_config_refused")
        assert len(refused) >= 2
    finally:
        stop_children(children)
        capture.__exit__(None, None, None)


def test_no_resource_offers_run_config_that_moves_models_stores_or_homes() -> None:
    """Run config can only set fields a resource declares: none of ours declares any."""
    from location.definitions import defs

    for name, resource in defs.resources.items():
        fields = set(type(resource).__pydantic_fields__) - {"settings"}
        assert not fields, f"resource {name!r} is configurable through run config: {fields}"
