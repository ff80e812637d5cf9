"""A deterministic OpenAI-compatible chat server on 127.0.0.1, for tests and benchmarks.

It answers `/v1/chat/completions` with the scripted model's schema-valid answers after a fixed
latency, can fail its first N requests with 500, and counts requests per request hash — which
is how tests prove that no call was paid twice. Tests name its model `stub`, which the sample
config prices at an explicit 0. Like a paid API it bills every request it
answers, when it starts working on it (whether or not the client is still there to read the
answer, and whether or not the answer reports its `usage`): `billed` holds those token counts.
"""

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from resources.llm.hashing import request_hash
from resources.llm.scripted import ScriptedModel


class _Server(ThreadingHTTPServer):
    # The default backlog of 5 resets connections when more clients than that connect at
    # once (a benchmark at C = 32 or 128 does); a hosted endpoint queues them.
    request_queue_size = 1024
    daemon_threads = True


class StubServer:
    def __init__(
        self,
        *,
        latency_s: float = 0.0,
        fail_first: int = 0,
        fail_status: int = 500,
        scripted: ScriptedModel | None = None,
        omit_usage: bool = False,
    ) -> None:
        self.latency_s = latency_s
        self.omit_usage = omit_usage
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.scripted = scripted or ScriptedModel()
        self.requests = 0
        self.by_hash: Counter[str] = Counter()
        self.billed: list[tuple[int, int]] = []  # (prompt tokens, completion tokens) per answer
        self.authorizations: set[str] = set()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> "StubServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests += 1
            self.by_hash[request_hash(body)] += 1
            failing = self.requests <= self.fail_first
        answer = None if failing else self.scripted.answer(body)
        if answer is not None:
            usage = answer["usage"]
            with self._lock:
                self.billed.append((usage["prompt_tokens"], usage["completion_tokens"]))
            if self.omit_usage:
                del answer["usage"]
        if self.latency_s:
            time.sleep(self.latency_s)
        if answer is None:
            return self.fail_status, {"error": {"message": "stub server told to fail"}}
        return 200, answer

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                stub.authorizations.add(self.headers.get("Authorization") or "")
                length = int(self.headers.get("Content-Length") or 0)
                status, payload = stub._answer(json.loads(self.rfile.read(length)))
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client died mid-request (the crash tests kill it on purpose)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


def main() -> None:  # pragma: no cover - a manual helper: python -m resources.llm.stub_server
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    with StubServer(latency_s=args.latency) as server:
        print(server.url, flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
