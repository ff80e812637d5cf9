"""The home folder: every piece of state for one workbench lives under it."""

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from resources.settings.environment import environment

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGSTER_YAML = REPO_ROOT / "dagster.yaml"


def home_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """--home, then OPSBENCH_HOME, then ./.opsbench."""
    chosen = explicit or environment().home or ".opsbench"
    return Path(chosen).expanduser().resolve()


def cache_path() -> Path:
    """Model weights and other caches live outside homes, shared between them."""
    return environment().cache_dir


@dataclass(frozen=True)
class Home:
    root: Path

    @property
    def dagster(self) -> Path:
        return self.root / "dagster"

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def claimed(self) -> Path:
        """Files taken from the inbox but not yet registered (a crash leaves them here)."""
        return self.root / "intake" / "claimed"

    @property
    def originals(self) -> Path:
        """Original bytes of every registered item, named by item id."""
        return self.root / "intake" / "originals"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def memory(self) -> Path:
        return self.root / "memory"

    @property
    def reports(self) -> Path:
        """Tables the observability assets write (parquet): cost per outcome, reprocess diffs."""
        return self.root / "reports"

    @property
    def alerts(self) -> Path:
        """alerts.jsonl: failed runs and failed checks, one JSON object per line."""
        return self.root / "alerts"

    @property
    def store_url(self) -> str:
        """OPSBENCH_STORE_URL, else the config's `store.url`, else SQLite in the home."""
        from resources.settings.config import load_config
        from resources.settings.environment import environment

        given = environment().store_url
        if given is not None:
            return given.get_secret_value()
        return load_config().store.url or f"sqlite:///{self.root / 'store.sqlite'}"

    def ensure(self) -> "Home":
        for folder in (
            self.dagster,
            self.inbox,
            self.claimed,
            self.originals,
            self.quarantine,
            self.outbox,
            self.memory,
            self.reports,
            self.alerts,
        ):
            folder.mkdir(parents=True, exist_ok=True)
        instance_yaml = self.dagster / "dagster.yaml"
        if DAGSTER_YAML.exists() and (
            not instance_yaml.exists() or instance_yaml.read_bytes() != DAGSTER_YAML.read_bytes()
        ):
            shutil.copyfile(DAGSTER_YAML, instance_yaml)
        return self


def open_home(explicit: str | os.PathLike[str] | None = None) -> Home:
    return Home(home_path(explicit)).ensure()
