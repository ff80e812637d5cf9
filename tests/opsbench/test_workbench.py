"""What `opsbench run` starts beside the daemon and the web server."""

import subprocess
import sys
import time
from pathlib import Path

import yaml

from opsbench.workbench import mail_watcher_command
from resources.settings.config import SAMPLE_CONFIG


def _config(tmp_path: Path, *, idle: bool) -> Path:
    raw = yaml.safe_load(SAMPLE_CONFIG.read_text())
    raw["intake"]["imap"] = [
        {
            "name": "owner",
            "host": "127.0.0.1",
            "port": 1,  # nothing listens: the watcher backs off and retries, it never exits
            "tls": "none",
            "user": "owner",
            "password_env": "OWNER_IMAP_PASSWORD",
            "idle": idle,
        }
    ]
    path = tmp_path / f"config-{idle}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_no_watcher_without_an_idle_account(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPSBENCH_CONFIG", str(SAMPLE_CONFIG))
    assert mail_watcher_command() is None
    monkeypatch.setenv("OPSBENCH_CONFIG", str(_config(tmp_path, idle=False)))
    assert mail_watcher_command() is None


def test_an_idle_account_gets_a_watcher_that_stays_up(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    config = _config(tmp_path, idle=True)
    monkeypatch.setenv("OPSBENCH_CONFIG", str(config))
    command = mail_watcher_command()
    assert command == [sys.executable, "-m", "sensors.imap_idle"]
    env = {
        "OPSBENCH_HOME": str(tmp_path / "home"),
        "OPSBENCH_CONFIG": str(config),
        "PATH": "/usr/bin:/bin",
    }
    watcher = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(3)
        # An unreachable server is retried with backoff, never a crashed watcher.
        assert watcher.poll() is None, watcher.stderr.read() if watcher.stderr else ""
    finally:
        watcher.terminate()
        watcher.wait(timeout=10)
        if watcher.stderr:
            watcher.stderr.close()
