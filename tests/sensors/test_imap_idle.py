"""IMAP IDLE against a real Dovecot on 127.0.0.1 (sensors/imap_idle.py): a message appended
while the watcher waits in IDLE wakes it and is registered by the read that follows (not by
the IDLE timeout); a server without IDLE is polled; both go through imap_tick's lock, so the
sensor and the watcher never read one account at once."""

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from imap_server import PASSWORD, PASSWORD_ENV, Dovecot, imap_config, message

from resources.connectors.imap import ImapSession
from resources.settings.config import load_config
from sensors.imap_idle import watch, watch_account
from sensors.imap_intake import imap_tick


@pytest.fixture
def dovecot(tmp_path: Path) -> Iterator[Dovecot]:
    with Dovecot(tmp_path / "imap") as server:
        yield server


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


def _until(condition, timeout_s: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


class Watcher:
    def __init__(self, bench, config: Path, **options: float) -> None:  # type: ignore[no-untyped-def]
        self.ticks: list[int] = []
        self.stop = threading.Event()
        loaded = load_config(config)
        (account,) = loaded.intake.imap
        self.thread = threading.Thread(
            target=watch_account,
            args=(bench.store, bench.home, lambda: loaded, account, self.stop),
            kwargs={**options, "on_tick": self.ticks.append},
            daemon=True,
        )

    def __enter__(self) -> "Watcher":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()


def test_an_idle_watcher_registers_mail_when_the_server_says_it_arrived(
    bench, dovecot, tmp_path
) -> None:
    config = imap_config(tmp_path, dovecot.port)
    # An IDLE timeout far beyond the test: only the server's word can wake the watcher.
    with Watcher(bench, config, idle_s=600, poll_s=600) as watcher:
        _until(lambda: watcher.ticks == [0])  # the first read found nothing; now in IDLE
        # Let it select the folder: from then on Dovecot reports the append, in IDLE or as
        # soon as IDLE starts (one before the select would wait for the sensor's next tick).
        time.sleep(0.3)
        dovecot.append(message(1))
        _until(lambda: len(watcher.ticks) == 2)
        assert watcher.ticks == [0, 1]  # woken once, by the append, and read once
        assert len(bench.store.items()) == 1
        dovecot.append(message(2))
        _until(lambda: len(bench.store.items()) == 2)
    assert all("\\Seen" in flags for flags in dovecot.flags().values())


def test_a_server_without_idle_is_polled(bench, dovecot, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(ImapSession, "can_idle", lambda self: False)
    config = imap_config(tmp_path, dovecot.port)
    with Watcher(bench, config, idle_s=600, poll_s=0.1) as watcher:
        dovecot.append(message(1))
        _until(lambda: len(bench.store.items()) == 1)
        # The item is in the store before its read returns (and reports its tick).
        _until(lambda: len(watcher.ticks) >= 1)
        assert sum(watcher.ticks) == 1


def test_the_watcher_and_the_sensor_never_read_one_account_at_once(
    bench, dovecot, tmp_path
) -> None:
    config = imap_config(tmp_path, dovecot.port)
    loaded = load_config(config)
    reader = f"{socket.gethostname()}:{os.getpid()}:1:{time.time():.0f}"  # alive, reading
    assert bench.store.acquire_lock("imap:work", reader, lambda holder: False)
    dovecot.append(message(1))
    assert imap_tick(bench.store, bench.home, loaded).registered == 0  # left to the holder
    bench.store.release_lock("imap:work", reader)
    assert imap_tick(bench.store, bench.home, loaded).registered == 1
    stop = threading.Event()
    threads = watch(bench.store, bench.home, lambda: loaded, stop, idle_s=600)
    stop.set()
    assert [t.name for t in threads] == ["imap-idle-work"]
