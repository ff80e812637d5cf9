"""The embedding server: all-MiniLM-L6-v2 behind an OpenAI-compatible `/v1/embeddings`, one
per home, started by `opsbench run` beside the model server.

Dagster run workers re-import the code location for every run; importing torch and
sentence-transformers there costs seconds per run. With this server they send texts over
127.0.0.1 through the `openai` client instead — the same path as a hosted endpoint.
"""

import argparse
import base64
import json
import signal
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from resources.llm.local_server import LocalServer, ensure_child_server
from resources.memory.embeddings import MINILM, MiniLMEmbedder
from resources.settings.home import Home
from resources.web import refusal_for

MODULE = "resources.memory.embed_server"
MAX_BODY = 8_000_000
MAX_INPUTS = 2048


def ensure_embed_server(
    home: Home, *, log=lambda m: print(m, file=sys.stderr, flush=True)
) -> LocalServer:  # type: ignore[no-untyped-def]
    """Reuse this home's healthy embedding server or start one (`<home>/embed.url`)."""
    return ensure_child_server(
        home, name="embed", module=MODULE, args=[], what="embedding server", log=log
    )


def embeddings_response(body: dict[str, Any], embedder: MiniLMEmbedder) -> dict[str, Any]:
    """The OpenAI embeddings answer for one request body (raises ValueError on a bad one)."""
    texts = body.get("input")
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError("input must be a string or a non-empty list of strings")
    if len(texts) > MAX_INPUTS:
        raise ValueError(f"at most {MAX_INPUTS} inputs per request")
    vectors = embedder.embed(texts)
    as_base64 = body.get("encoding_format") == "base64"
    data = [
        {
            "object": "embedding",
            "index": n,
            "embedding": (
                base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode() if as_base64 else v
            ),
        }
        for n, v in enumerate(vectors)
    ]
    tokens = sum(len(t.split()) for t in texts)
    return {
        "object": "list",
        "data": data,
        "model": MINILM,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def make_server(port: int, embedder: MiniLMEmbedder, key: str) -> ThreadingHTTPServer:
    ready = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def _refused(self) -> bool:
            """The guard every Opsbench server applies: this port's Host, no other Origin,
            the home's key (only /health is open, for the owner's readiness probe)."""
            path, _, query = self.path.partition("?")
            headers = {k.lower(): v for k, v in self.headers.items()}
            refusal = refusal_for(
                self.command,
                path.rstrip("/") or "/",
                query,
                headers,
                port=int(self.server.server_address[1]),  # type: ignore[index]  # port 0: a free one
                token=key,
                public_paths=frozenset({"/health"}),
            )
            if refusal is not None:
                self._answer(refusal.status, {"error": {"message": refusal.reason}})
            return refusal is not None

        def do_GET(self) -> None:
            if self._refused():
                return
            if self.path.rstrip("/") == "/health" and ready.is_set():
                self._answer(200, {"status": "ok"})
            else:
                self._answer(503 if self.path.rstrip("/") == "/health" else 404, {})

        def do_POST(self) -> None:
            if self._refused():
                return
            if self.path.rstrip("/") not in ("/v1/embeddings", "/embeddings"):
                self._answer(404, {"error": {"message": "not found"}})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._answer(413, {"error": {"message": "request too large"}})
                return
            try:
                body = json.loads(self.rfile.read(length))
                self._answer(200, embeddings_response(body, embedder))
            except (ValueError, TypeError, AttributeError) as exc:
                self._answer(400, {"error": {"message": str(exc)[:300]}})

        def _answer(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass  # request lines would only repeat what the client knows; never any text

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.ready = ready  # type: ignore[attr-defined]
    return server


def serve(port: int, key_file: Path) -> None:
    embedder = MiniLMEmbedder()
    server = make_server(port, embedder, key_file.read_text().strip())
    embedder.embed(["warm up"])  # load the model before answering /health
    server.ready.set()  # type: ignore[attr-defined]
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    signal.signal(signal.SIGINT, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()
    server.server_close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key-file", type=Path, required=True)
    args = parser.parse_args()
    serve(args.port, args.key_file)
