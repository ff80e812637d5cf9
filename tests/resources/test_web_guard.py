"""The guard's rules, one by one, without a server (the real webserver is in
tests/e2e/test_web_surface.py)."""

import asyncio
import json

import pytest

from resources.web.guard import GuardedApp, launch_names_resources, refusal_for
from resources.web.keys import UI_TOKEN, home_key

PORT = 3000
TOKEN = "t0ken"
OWN = {"host": f"127.0.0.1:{PORT}", "authorization": f"Bearer {TOKEN}"}
JSON_POST = {**OWN, "content-type": "application/json"}


def _refused(method: str, path: str, headers: dict[str, str], query: str = "") -> str | None:
    refusal = refusal_for(
        method, path, query, headers, port=PORT, token=TOKEN, graphql_path="/graphql"
    )
    return refusal.reason if refusal else None


def test_the_owners_own_requests_pass() -> None:
    assert _refused("POST", "/graphql", JSON_POST) is None
    assert _refused("GET", "/runs", {**OWN, "host": f"localhost:{PORT}"}) is None
    assert _refused("GET", "/runs", {**OWN, "origin": f"http://127.0.0.1:{PORT}"}) is None
    cookie = {"host": f"127.0.0.1:{PORT}", "cookie": f"other=1; opsbench_{PORT}={TOKEN}"}
    assert _refused("GET", "/assets", cookie) is None
    # The login link itself needs no cookie yet (it checks its own token).
    assert _refused("GET", "/login", {"host": f"127.0.0.1:{PORT}"}, "token=x") is None


@pytest.mark.parametrize(
    ("method", "path", "headers", "query", "reason"),
    [
        ("POST", "/graphql", {**JSON_POST, "host": "evil.example"}, "", "foreign_host"),
        ("POST", "/graphql", {**JSON_POST, "host": "127.0.0.1:3001"}, "", "foreign_host"),
        ("POST", "/graphql", {**JSON_POST, "origin": "http://evil.example"}, "", "foreign_origin"),
        ("POST", "/graphql", {**JSON_POST, "origin": "null"}, "", "foreign_origin"),
        (
            "POST",
            "/graphql",
            {**JSON_POST, "sec-fetch-site": "same-site"},
            "",
            "cross_site_request",
        ),
        ("GET", "/graphql", OWN, "query=mutation", "graphql_needs_json_post"),
        ("POST", "/graphql", {**OWN, "content-type": "text/plain"}, "", "graphql_needs_json_post"),
        (
            "POST",
            "/graphql",
            {**OWN, "content-type": "application/x-www-form-urlencoded"},
            "",
            "graphql_needs_json_post",
        ),
        ("POST", "/graphql", JSON_POST, "query=mutation", "graphql_needs_json_post"),
        ("GET", "/runs", {"host": f"127.0.0.1:{PORT}"}, "", "token_required"),
        ("GET", "/runs", {**OWN, "authorization": "Bearer wrong"}, "", "token_required"),
        (
            "GET",
            "/runs",
            {"host": OWN["host"], "cookie": "opsbench_3000=wrong"},
            "",
            "token_required",
        ),
        ("GET", "/runs", {"host": OWN["host"], "cookie": "\x00;;=="}, "", "token_required"),
    ],
)
def test_what_a_foreign_page_can_send_is_refused(method, path, headers, query, reason) -> None:
    assert _refused(method, path, headers, query) == reason


def test_a_link_from_elsewhere_may_open_a_page_but_never_reach_graphql() -> None:
    nav = {**OWN, "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate"}
    assert _refused("GET", "/runs", nav) is None
    assert _refused("GET", "/graphql", nav, "query=mutation") == "cross_site_request"


@pytest.mark.parametrize(
    "variables",
    [
        {"params": {"runConfigData": {"resources": {"llm": {"config": {"spec": "http://x"}}}}}},
        {"params": {"runConfigData": "resources:\n  store: {config: {url: x}}"}},
        {"backfillParams": {"runConfigData": {"RESOURCES": {}}}},
    ],
)
def test_a_launch_naming_resources_is_caught(variables) -> None:
    body = {"query": "mutation($params: X) { launchRun(executionParams: $params) { ok } }"}
    assert launch_names_resources(json.dumps({**body, "variables": variables}).encode())


def test_resources_inline_or_escaped_in_the_query_are_caught_too() -> None:
    inline = 'mutation { launchRun(executionParams: {runConfigData: "\\u0072esources: {}"}) { x } }'
    assert launch_names_resources(json.dumps({"query": inline}).encode())
    batch = [{"query": "{ version }"}, {"query": "mutation { launchPartitionBackfill(resources) }"}]
    assert launch_names_resources(json.dumps(batch).encode())


def test_queries_and_plain_launches_pass() -> None:
    assert not launch_names_resources(b'{"query": "{ runsOrError { __typename } }"}')
    plain = {"query": "mutation { launchPartitionBackfill(backfillParams: $p) { x } }"}
    assert not launch_names_resources(json.dumps(plain).encode())
    assert not launch_names_resources(b"not json")


def _call(app: GuardedApp, method: str, path: str, headers: dict[str, str], body: bytes = b""):
    sent: list[dict] = []
    scope = {
        "type": "http",
        "method": method,
        "path": path.split("?")[0],
        "query_string": path.partition("?")[2].encode(),
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
    }

    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def test_the_middleware_refuses_before_the_app_and_replays_bodies_it_read() -> None:
    seen: list[bytes] = []

    async def inner(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        seen.append((await receive())["body"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    refusals: list[str] = []
    app = GuardedApp(
        inner, port=PORT, token=TOKEN, on_refusal=lambda r, p: refusals.append(r.reason)
    )
    query = b'{"query": "{ version }"}'
    assert _call(app, "POST", "/graphql", JSON_POST, query)[0]["status"] == 200
    assert seen == [query]  # the body the guard read reaches the app whole
    launch = json.dumps(
        {"query": "mutation { launchRun(x: 1) { y } }", "variables": {"c": {"resources": 1}}}
    )
    assert _call(app, "POST", "/graphql", JSON_POST, launch.encode())[0]["status"] == 403
    assert _call(app, "GET", "/", {"host": "evil.example"})[0]["status"] == 403
    assert refusals == ["run_config_names_resources", "foreign_host"]
    assert len(seen) == 1

    login = _call(app, "GET", f"/login?token={TOKEN}", {"host": OWN["host"]})[0]
    assert login["status"] == 303
    cookie = dict(login["headers"])[b"set-cookie"].decode()
    assert cookie.startswith(f"opsbench_{PORT}={TOKEN};") and "HttpOnly" in cookie


def test_home_keys_are_made_once_and_kept_private(tmp_path) -> None:
    first = home_key(tmp_path, UI_TOKEN)
    assert len(first) >= 40 and home_key(tmp_path, UI_TOKEN) == first
    path = tmp_path / "secrets" / UI_TOKEN
    assert path.stat().st_mode & 0o077 == 0
    assert (tmp_path / "secrets").stat().st_mode & 0o077 == 0


def test_the_login_lands_where_the_server_says_and_only_on_its_own_paths() -> None:
    async def inner(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        raise AssertionError("the login never reaches the app")

    app = GuardedApp(inner, port=PORT, token=TOKEN, landing="/desk")
    login = _call(app, "GET", f"/login?token={TOKEN}", {"host": OWN["host"]})[0]
    assert login["status"] == 303 and dict(login["headers"])[b"location"] == b"/desk"
    wrong = _call(app, "GET", "/login?token=nope", {"host": OWN["host"]})[0]
    assert wrong["status"] == 401 and b"set-cookie" not in dict(wrong["headers"])
    for elsewhere in ("https://evil.example/", "//evil.example/", "desk"):
        with pytest.raises(ValueError):
            GuardedApp(inner, port=PORT, token=TOKEN, landing=elsewhere)
