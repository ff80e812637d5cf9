"""Recorded responses: `--record FILE` writes them, `--llm replay:FILE` answers from them.

A replay answers only what was recorded (keyed by request hash); anything else is a clear
error, never a live call. That makes a run reproducible offline and deterministic.
"""

import json
import threading
from pathlib import Path
from typing import Any

import httpx2

from resources.llm.hashing import request_hash


class Recorder:
    """Appends one JSON line per answered request (live or from the ledger)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._seen = set(load_recording(self.path)) if self.path.exists() else set()

    def record(self, key: str, model: str, response: dict[str, Any]) -> None:
        with self._lock:
            if key in self._seen:
                return
            self._seen.add(key)
            line = json.dumps({"request_hash": key, "model": model, "response": response})
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")


def load_recording(path: str | Path) -> dict[str, dict[str, Any]]:
    answers: dict[str, dict[str, Any]] = {}
    with Path(path).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                answers[entry["request_hash"]] = entry
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not a recording line ({exc})") from exc
    return answers


class ReplayModel:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"replay file not found: {self.path}")
        self.answers = load_recording(self.path)
        self.calls = 0
        self.misses = 0

    @property
    def model(self) -> str | None:
        first = next(iter(self.answers.values()), None)
        return first["model"] if first else None

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        self.calls += 1
        key = request_hash(json.loads(request.content))
        entry = self.answers.get(key)
        if entry is None:
            self.misses += 1
            message = f"request {key[:12]} is not in the recording {self.path.name}"
            return httpx2.Response(404, json={"error": {"message": message}})
        return httpx2.Response(200, json=entry["response"])

    def transport(self) -> httpx2.AsyncBaseTransport:
        return httpx2.MockTransport(self.handle)
