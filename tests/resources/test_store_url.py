"""Which store a home uses: OPSBENCH_STORE_URL > the config's `store.url` > SQLite in the home;
and a Postgres URL really serves a home (the CLI finds the home without a store.sqlite)."""

import json
import subprocess
import sys
from pathlib import Path

import yaml
from postgres import fresh_database_url

from resources.settings.config import SAMPLE_CONFIG
from resources.settings.home import Home


def _config(tmp_path: Path, url: str | None) -> Path:
    raw = yaml.safe_load(SAMPLE_CONFIG.read_text())
    raw["store"] = {"url": url}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_the_environment_beats_the_config_which_beats_the_default(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    home = Home(tmp_path / "home")
    monkeypatch.delenv("OPSBENCH_STORE_URL", raising=False)
    monkeypatch.setenv("OPSBENCH_CONFIG", str(SAMPLE_CONFIG))
    assert home.store_url == f"sqlite:///{tmp_path / 'home' / 'store.sqlite'}"
    monkeypatch.setenv("OPSBENCH_CONFIG", str(_config(tmp_path, "postgresql+psycopg://a@h/db")))
    assert home.store_url == "postgresql+psycopg://a@h/db"
    monkeypatch.setenv("OPSBENCH_STORE_URL", "postgresql+psycopg://b:pw@h/other")
    assert home.store_url == "postgresql+psycopg://b:pw@h/other"


def test_a_home_on_postgres_works_through_the_cli(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for url in fresh_database_url():
        env = {
            "PATH": "/usr/bin:/bin",
            "OPSBENCH_CONFIG": str(_config(tmp_path, url)),
            "OPSBENCH_HOME": str(tmp_path / "home"),
            "OPSBENCH_EMBEDDER": "hashing",
            "GX_ANALYTICS_ENABLED": "False",
        }
        inbox = Path(__file__).resolve().parents[2] / "samples" / "inbox"
        cli = [sys.executable, "-m", "opsbench.cli"]
        demo = subprocess.run(
            [*cli, "demo", "--inbox", str(inbox), "--llm", "scripted", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert demo.returncode == 0, demo.stderr[-2000:]
        assert not (tmp_path / "home" / "store.sqlite").exists()  # every row went to Postgres
        items = subprocess.run(
            [*cli, "items", "--json"], env=env, capture_output=True, text=True, check=True
        )
        assert len(json.loads(items.stdout)) == json.loads(demo.stdout)["items"] > 0
