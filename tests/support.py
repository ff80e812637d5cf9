"""Shared test helpers (importable: pytest puts tests/ on sys.path)."""

import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples" / "inbox"
HOSTILE = REPO / "tests" / "data" / "hostile_inbox"
OPSBENCH = [sys.executable, "-m", "ops_assets.cli"]


def drop(folder: Path, files: list[Path], *, age_s: float = 60.0) -> None:
    """Put files into an inbox as finished files (old enough to be claimed at once)."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in files:
        target = folder / path.name
        shutil.copyfile(path, target)
        old = target.stat().st_mtime - age_s
        os.utime(target, (old, old))
