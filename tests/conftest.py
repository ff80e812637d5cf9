"""Shared fixtures. Every test works in its own home; no test reaches a model by accident:
the model spec defaults to an invalid value, so a test must choose `scripted` (or a replay,
or a server on 127.0.0.1 that it started) on purpose."""

import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples" / "inbox"
HOSTILE = REPO / "tests" / "data" / "hostile_inbox"
OPSBENCH = [sys.executable, "-m", "ops_assets.cli"]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "OPSBENCH_CONFIG",
        "OPSBENCH_RECORD",
        "OPENAI_API_KEY",
        "OPSBENCH_API_KEY",
        "OPSBENCH_MODEL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPSBENCH_LLM", "unset-in-tests")
    monkeypatch.setenv("OPSBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home" / "dagster"))
    monkeypatch.setenv("GX_ANALYTICS_ENABLED", "False")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@dataclass
class Bench:
    """One home with its store, Dagster instance and resources, on the scripted model."""

    home: "object"
    store: "object"
    instance: dg.DagsterInstance
    resources: dict

    def add_batch_partition(self, key: str) -> None:
        from ops_assets.partitions import BATCHES

        self.instance.add_dynamic_partitions(BATCHES, [key])


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Bench]:
    from ops_assets.definitions import resource_defs
    from ops_assets.home import open_home
    from resources.store.resource import store_for

    monkeypatch.setenv("OPSBENCH_LLM", "scripted")
    home = open_home(tmp_path / "home")
    store = store_for(home.store_url)
    with dg.DagsterInstance.from_config(str(home.dagster)) as instance:
        yield Bench(home, store, instance, resource_defs())


def drop(folder: Path, files: list[Path], *, age_s: float = 60.0) -> None:
    """Put files into an inbox as finished files (old enough to be claimed at once)."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in files:
        target = folder / path.name
        shutil.copyfile(path, target)
        old = target.stat().st_mtime - age_s
        os.utime(target, (old, old))
