"""The local health probes (httpx): the model server's /health and the workbench's wait for
its web server, against a real HTTP server on 127.0.0.1 that is loading, then up."""

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest

from opsbench.workbench import wait_http
from resources.llm.local_server import free_port, healthy


@pytest.fixture
def loading() -> Iterator[tuple[str, list[int]]]:
    """A server answering 503 (loading) to each request while `statuses` lasts, then 200."""
    statuses: list[int] = []
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("X-Token", ""))
            status = statuses.pop(0) if statuses else 200
            body = b"{}"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", statuses
    finally:
        server.shutdown()
        server.server_close()
    assert all(token in ("", "t") for token in seen)


def test_healthy_says_no_while_loading_and_yes_once_up(loading) -> None:
    url, statuses = loading
    statuses.extend([503])
    assert not healthy(f"{url}/v1")
    assert healthy(f"{url}/v1")
    assert not healthy(f"http://127.0.0.1:{free_port()}/v1")
    assert not healthy("not a url")


def test_wait_http_waits_through_the_loading_answers(loading) -> None:
    url, statuses = loading
    statuses.extend([503, 503])
    assert wait_http(f"{url}/server_info", 30, headers={"X-Token": "t"})
    assert statuses == []
    assert not wait_http(f"http://127.0.0.1:{free_port()}/server_info", 1)
