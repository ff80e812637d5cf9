"""Shared fixtures. Every test works in its own home; no test reaches a model by accident:
the model spec defaults to an invalid value, so a test must choose `scripted` (or a replay,
or a server on 127.0.0.1 that it started) on purpose. Memory embeds with the hashing double
unless a test chooses the real all-MiniLM-L6-v2."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest


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
    # Memory embeds with the hashing double unless a test asks for the real MiniLM (loading
    # torch costs seconds per process, and most tests are about something else).
    monkeypatch.setenv("OPSBENCH_EMBEDDER", "hashing")
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
        from ops_assets.orchestration.partitions import BATCHES

        self.instance.add_dynamic_partitions(BATCHES, [key])

    def intake(self, files: list[Path] | None = None) -> str:
        """Drop mail (the samples by default) and take it in as one batch; its key."""
        from support import SAMPLES, drop

        from resources.settings.config import load_config
        from sensors.intake import tick

        drop(self.home.inbox, files or sorted(SAMPLES.iterdir()))  # type: ignore[attr-defined]
        (key,) = tick(self.store, self.home, load_config()).batches  # type: ignore[arg-type]
        self.add_batch_partition(key)
        return key

    def script(self, scripts: dict | None = None, request_scripts: dict | None = None):
        """Answer with these scripts (the defaults for the rest); the scripted model."""
        from resources.llm.resource import LLMResource
        from resources.llm.scripted import ScriptedModel

        model = ScriptedModel(scripts, request_scripts)

        class Scripted(LLMResource):
            def scripted_model(self) -> ScriptedModel:
                return model

        self.resources["llm"] = Scripted(settings=self.resources["settings"])
        return model

    def materialize(
        self, assets: list, key: str | None = None, **kw: object
    ) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            assets, partition_key=key, resources=self.resources, instance=self.instance, **kw
        )


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Bench]:
    from location.definitions import resource_defs
    from resources.settings.home import open_home
    from resources.store.resource import store_for

    monkeypatch.setenv("OPSBENCH_LLM", "scripted")
    home = open_home(tmp_path / "home")
    store = store_for(home.store_url)
    with dg.DagsterInstance.from_config(str(home.dagster)) as instance:
        yield Bench(home, store, instance, resource_defs())
