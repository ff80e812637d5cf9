"""Progress goes to stderr for a person watching, and never with --json or into a file."""

import datetime as dt
import io
import threading

import pytest
from rich.console import Console

from opsbench.cli import ui


@pytest.fixture
def terminal(monkeypatch) -> io.StringIO:
    """stderr as a terminal (what a person watching has)."""
    screen = io.StringIO()
    monkeypatch.setattr(ui, "stderr", lambda: Console(file=screen, force_terminal=True, width=100))
    return screen


def _polled_until_seen(label: str, *, as_json: bool) -> bool:
    """Run a counted body until the bar asked for the count once; whether it asked."""
    asked = threading.Event()

    def poll() -> tuple[int, int]:
        asked.set()
        return 3, 5

    with ui.counting(label, poll, as_json=as_json, every_s=0.01):
        if ui.progress_shown(as_json):
            asked.wait(timeout=5)
    return asked.is_set()


def test_a_terminal_gets_the_counting_bar_on_stderr(terminal, capsys) -> None:
    assert _polled_until_seen("items rested", as_json=False)
    assert "items rested" in terminal.getvalue() and "3/5" in terminal.getvalue()
    assert capsys.readouterr().out == ""  # stdout carries only the result


def test_json_draws_no_progress_even_on_a_terminal(terminal) -> None:
    assert not _polled_until_seen("items rested", as_json=True)
    with ui.spinner("erasing", as_json=True):
        pass
    assert terminal.getvalue() == ""


def test_no_progress_when_stderr_is_not_a_terminal(capsys) -> None:
    assert not ui.progress_shown(False)  # under pytest stderr is captured, as in a pipe
    assert not _polled_until_seen("items rested", as_json=False)
    assert capsys.readouterr().err == ""


def test_age_reads_as_a_person_says_it() -> None:
    now = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)
    assert ui.age("2026-12-02T11:59:15+00:00", now) == "45s"
    assert ui.age("2026-12-02T09:00:00+00:00", now) == "3h"
    assert ui.age("2026-11-29T12:00:00", now) == "3d"
    assert ui.age(None, now) == ui.age("not a time", now) == "-"
