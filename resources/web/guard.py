"""The guard in front of every HTTP server Opsbench starts on 127.0.0.1.

A browser lets any page the owner visits send requests to 127.0.0.1: forms (POST without a
preflight), images and links (GET), and pages on a domain that resolves to 127.0.0.1 (DNS
rebinding, with that domain as Host). So a request is served only when it
- names this server as its Host (127.0.0.1, localhost or [::1] with our port),
- comes from no other origin (Origin, and the browser's Sec-Fetch-Site),
- carries the home's token (the login cookie, or `Authorization: Bearer`),
- and, for GraphQL over HTTP, is a JSON POST with nothing in the URL: GETs and form posts
  execute mutations in Dagster's webserver.
A launch whose run config names `resources` is refused too: run config must never redirect
models, stores, homes or recordings (the resources have no such fields either; this refusal
is audited)."""

import hmac
import json
import re
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
LOGIN_PATH = "/login"
MAX_GRAPHQL_BODY = 2_000_000
LAUNCHES = re.compile(
    r"\b(launchRun|launchPipelineExecution|launchMultipleRuns|launchRunReexecution|"
    r"launchPipelineReexecution|launchPartitionBackfill)\b"
)
NAMES_RESOURCES = re.compile(r"resources", re.I)


@dataclass(frozen=True)
class Refusal:
    status: int
    reason: str  # a code, never request text

    def body(self) -> bytes:
        return json.dumps({"error": self.reason}).encode()


def cookie_name(port: int) -> str:
    """One cookie per port: cookies ignore ports, and two homes may run side by side."""
    return f"opsbench_{port}"


def _allowed(port: int) -> tuple[set[str], set[str]]:
    hosts = {f"{name}:{port}" for name in LOOPBACK_NAMES}
    return hosts, {f"http://{host}" for host in hosts}


def _token_matches(given: str | None, token: str) -> bool:
    return bool(given) and hmac.compare_digest(str(given).encode(), token.encode())


def presented_token(headers: Mapping[str, str], port: int) -> str | None:
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    cookies = SimpleCookie()
    try:
        cookies.load(headers.get("cookie", ""))
    except Exception:  # a malformed Cookie header is no token, not a crash
        return None
    morsel = cookies.get(cookie_name(port))
    return morsel.value if morsel else None


def refusal_for(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    *,
    port: int,
    token: str,
    public_paths: frozenset[str] = frozenset(),
    graphql_path: str | None = None,
    websocket: bool = False,
) -> Refusal | None:
    """Why this request must not be served (None: serve it). Header names lower-case."""
    hosts, origins = _allowed(port)
    if headers.get("host", "").lower() not in hosts:
        return Refusal(403, "foreign_host")
    origin = headers.get("origin")
    if origin is not None and origin.lower() not in origins:
        return Refusal(403, "foreign_origin")
    site = headers.get("sec-fetch-site", "").lower()
    navigation = method == "GET" and headers.get("sec-fetch-mode", "") == "navigate"
    if site in ("cross-site", "same-site") and not (navigation and path != graphql_path):
        return Refusal(403, "cross_site_request")
    if path == graphql_path and not websocket:
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if method != "POST" or content_type != "application/json" or "query" in parse_qs(query):
            return Refusal(403, "graphql_needs_json_post")
    if path in public_paths or path == LOGIN_PATH:
        return None
    if not _token_matches(presented_token(headers, port), token):
        return Refusal(401, "token_required")
    return None


def launch_names_resources(body: bytes) -> bool:
    """A GraphQL launch whose run config (inline or in variables, YAML or JSON) mentions
    resources. Deliberately broad: the owner's own launches never configure resources."""
    try:
        payload = json.loads(body)
    except ValueError:
        return False
    documents = payload if isinstance(payload, list) else [payload]
    for document in documents:
        if not isinstance(document, dict):
            continue
        text = str(document.get("query") or "")
        # GraphQL string escapes (\u0072esources) must not hide the word.
        text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
        if LAUNCHES.search(text) and NAMES_RESOURCES.search(
            text + json.dumps(document.get("variables"), ensure_ascii=False)
        ):
            return True
    return False


class GuardedApp:
    """ASGI middleware: the checks of `refusal_for` before the wrapped app sees anything, and
    `GET /login?token=…` to set the HttpOnly, SameSite=Strict cookie that a browser then
    carries (the link `opsbench run` prints), then land on `landing` (a path of this server)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        port: int,
        token: str,
        graphql_path: str = "/graphql",
        public_paths: frozenset[str] = frozenset(),
        on_refusal: Callable[[Refusal, str], None] = lambda refusal, path: None,
        landing: str = "/",
    ) -> None:
        if not landing.startswith("/") or landing.startswith("//"):
            raise ValueError("landing must be a path of this server")
        self.app, self.port, self.token, self.landing = app, port, token, landing
        self.graphql_path, self.public_paths = graphql_path, public_paths
        self.on_refusal = on_refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        method, path = scope.get("method", "GET"), scope.get("path", "/")
        query = scope.get("query_string", b"").decode("latin-1")
        refusal = refusal_for(
            method,
            path,
            query,
            headers,
            port=self.port,
            token=self.token,
            public_paths=self.public_paths,
            graphql_path=self.graphql_path,
            websocket=scope["type"] == "websocket",
        )
        if refusal is None and scope["type"] == "http" and path == LOGIN_PATH:
            await self._login(query, send)
            return
        if refusal is None and scope["type"] == "http" and path == self.graphql_path:
            body, receive = await _buffered(receive)
            if len(body) > MAX_GRAPHQL_BODY:
                refusal = Refusal(413, "request_too_large")
            elif launch_names_resources(body):
                refusal = Refusal(403, "run_config_names_resources")
        if refusal is None:
            await self.app(scope, receive, send)
            return
        self.on_refusal(refusal, path)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await _answer(send, refusal.status, refusal.body(), b"application/json")

    async def _login(self, query: str, send: Send) -> None:
        given = (parse_qs(query).get("token") or [""])[0]
        if not _token_matches(given, self.token):
            await _answer(send, 401, Refusal(401, "token_required").body(), b"application/json")
            return
        cookie = f"{cookie_name(self.port)}={self.token}; HttpOnly; SameSite=Strict; Path=/"
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [
                    (b"location", self.landing.encode()),
                    (b"set-cookie", cookie.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return b"", receive
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
        if sum(len(c) for c in chunks) > MAX_GRAPHQL_BODY:
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


async def _answer(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
