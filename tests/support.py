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


# Every secret the project reads from the environment (SMTP and webhook secrets join this
# list when those connectors arrive).
CANARIES = {
    "OPSBENCH_API_KEY": "sk-canary-opsbench-" + "a" * 24,
    "OPENAI_API_KEY": "sk-canary-openai-" + "b" * 24,
}


def assert_no_canary(root, extra_text: str = "") -> None:
    for canary in CANARIES.values():
        assert canary not in extra_text
        for path in root.rglob("*"):
            if path.is_file():
                assert canary.encode() not in path.read_bytes(), path


def batch_assets() -> list:
    """The process_batch job's assets, in order (imported late: support loads before Dagster)."""
    from ops_assets.defs.reply_draft.assets import reply_draft
    from ops_assets.defs.review.assets import review
    from ops_assets.defs.triage.assets import triage

    return [triage, reply_draft, review]


def outcome_assets() -> list:
    from ops_assets.defs.costs.assets import cost_per_outcome
    from ops_assets.defs.delivery.assets import delivery
    from ops_assets.defs.memory.assets import episodic_memory

    return [delivery, episodic_memory, cost_per_outcome]
