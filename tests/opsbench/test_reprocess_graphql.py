"""`reprocess --ui` talks to the owner's server over httpx: JSON in, the data out, and a
refusal (a wrong token's 401) as one readable error rather than a traceback."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from opsbench.reprocess import ReprocessError, _graphql


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.headers.get("Authorization") != "Bearer right":
            self.send_response(401)
            self.end_headers()
            return
        answer = json.dumps({"data": {"echo": body["variables"], "path": self.path}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_query_posts_json_to_graphql_and_returns_its_data(server: str) -> None:
    data = _graphql(server, {"Authorization": "Bearer right"}, "query { x }", {"a": 1})
    assert data == {"echo": {"a": 1}, "path": "/graphql"}


def test_a_refused_token_is_one_readable_error(server: str) -> None:
    with pytest.raises(ReprocessError, match="answered 401"):
        _graphql(server + "/graphql", {"Authorization": "Bearer wrong"}, "query { x }", {})
