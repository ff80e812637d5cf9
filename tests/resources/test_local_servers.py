"""The model and embedding servers' life cycle: one per home, and never orphaned — a server
whose owner was killed is adopted by the next command on that home and stopped when it ends."""

import subprocess
from pathlib import Path

import pytest

from resources.llm.local_server import _alive, ensure_child_server, healthy
from resources.settings.home import open_home

MODULE = "health_server"


@pytest.fixture
def home(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parent.parent))
    return open_home(tmp_path / "home")


def _ensure(home):  # type: ignore[no-untyped-def]
    return ensure_child_server(
        home, name="llm", module=MODULE, args=[], what="test server", log=lambda _m: None
    )


def test_a_server_whose_owner_was_killed_is_adopted_and_stopped_at_the_end(home) -> None:
    first = _ensure(home)
    try:
        assert first.started and healthy(first.url)
        # Its owner, a `demo` say, was SIGKILLed: the server lives on.
        dead = subprocess.Popen(["true"])
        dead.wait()
        (home.root / "llm.owner").write_text(str(dead.pid))
        adopted = _ensure(home)
        assert (adopted.pid, adopted.url) == (first.pid, first.url)  # no second server
        assert adopted.started  # so the adopting command stops it when it ends
        adopted.stop()
        assert not _alive(first.pid, MODULE) and not healthy(first.url)
    finally:
        first.stop()
        if first.process is not None:
            first.process.wait()


def test_a_server_whose_owner_lives_is_shared_not_stopped(home) -> None:
    first = _ensure(home)
    try:
        again = _ensure(home)  # the same command asking twice (its owner is alive)
        assert (again.started, again.pid) == (False, first.pid)
    finally:
        first.stop()
