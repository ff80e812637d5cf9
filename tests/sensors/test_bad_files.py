"""One bad file beside valid mail: it is quarantined or skipped with a reason and an alert, and
every valid file is registered in the same tick. The sensor never raises.

Tests run as root, for whom permissions do not stop a read, so "permission denied" and
"vanished mid-read" are simulated at the open call (both `os.open` and `io.open`).
"""

import io
import itertools
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import SAMPLES, drop

from ops_assets.observability.alerts import read_alerts
from resources.settings.config import load_config
from resources.settings.home import open_home
from resources.store.resource import store_for
from sensors.intake import tick

VALID = sorted(SAMPLES.iterdir())
OLD = time.time() - 120


def _mail(n: int) -> bytes:
    return (
        f"From: c{n}@client.example\nTo: alex@northwind.example\nSubject: question {n}\n"
        f"Message-ID: <bad-files-{n}@client.example>\n\nQuestion number {n}, please.\n"
    ).encode()


def _age(path: bytes | str) -> None:
    os.utime(path, (OLD, OLD), follow_symlinks=False)


def _non_utf8_name(inbox: Path) -> str:
    name = os.path.join(os.fsencode(inbox), b"caf\xe9-\xff.eml")
    with open(name, "wb") as handle:
        handle.write(_mail(1))
    _age(name)
    return "name_not_utf8"


def _directory(inbox: Path) -> str:
    (inbox / "folder.eml").mkdir()
    (inbox / "folder.eml" / "inner.eml").write_bytes(_mail(2))
    _age(inbox / "folder.eml")
    return "not_a_file"


def _fifo(inbox: Path) -> str:
    os.mkfifo(inbox / "pipe.eml")  # opening it for reading would block the tick for ever
    _age(inbox / "pipe.eml")
    return "not_a_file"


def _symlink_loop(inbox: Path) -> str:
    os.symlink("loop.eml", inbox / "loop.eml")
    _age(inbox / "loop.eml")
    return "not_a_file"


def _symlink_out(inbox: Path) -> str:
    outside = inbox.parent / "elsewhere.eml"
    outside.write_bytes(_mail(3))
    os.symlink(outside, inbox / "link.eml")  # links are never followed out of the inbox
    _age(inbox / "link.eml")
    return "not_a_file"


def _zero_bytes(inbox: Path) -> str:
    (inbox / "empty.eml").write_bytes(b"")
    _age(inbox / "empty.eml")
    return "not_email"


BAD_ENTRIES: dict[str, Callable[[Path], str]] = {
    "non-utf8-name": _non_utf8_name,
    "directory": _directory,
    "fifo": _fifo,
    "symlink-loop": _symlink_loop,
    "symlink-out": _symlink_out,
    "zero-bytes": _zero_bytes,
}


def _registered_valid(bench) -> set[str]:
    return {i["source"] for i in bench.store.items() if i["state"] == "received"}


@pytest.mark.parametrize("make", BAD_ENTRIES.values(), ids=BAD_ENTRIES.keys())
def test_one_bad_entry_never_stops_the_valid_mail(bench, make) -> None:
    drop(bench.home.inbox, VALID)
    code = make(bench.home.inbox)
    result = tick(bench.store, bench.home, load_config())
    assert {p.name for p in VALID} <= _registered_valid(bench)
    assert os.listdir(bench.home.inbox) == []  # nothing left to trip over on the next tick
    alerts = [a for a in read_alerts(bench.home) if a["kind"].startswith("intake_")]
    assert [a["reason_code"] for a in alerts] == [code]
    if code == "name_not_utf8":
        # Mail under an odd name is still mail: registered under a readable name.
        assert "caf\ufffd-\ufffd.eml".replace("\ufffd", "?") in _registered_valid(bench)
    else:
        (bad,) = bench.store.items(states=["quarantined"])
        assert bad["reason_code"] == code and bad["reason"]
        assert alerts[0]["item_id"] == bad["id"]
        assert os.path.lexists(bad["original_path"])  # kept, as it was, for the owner
    assert result.registered == len(VALID) + (code == "name_not_utf8")


def _failing_open(monkeypatch, name: str, error: Callable[[str], OSError]) -> None:
    """Opening the claimed copy of `name` fails with `error(path)`, whichever API opens it."""
    real_os_open, real_io_open = os.open, io.open

    def hit(path: object) -> bool:
        if not isinstance(path, str | bytes | os.PathLike):
            return False  # a file descriptor
        text = os.fsdecode(path)
        return "claimed" in text and text.endswith(name)

    def os_open(path, *args, **kwargs):
        if hit(path):
            raise error(os.fsdecode(path))
        return real_os_open(path, *args, **kwargs)

    def io_open(path, *args, **kwargs):
        if hit(path):
            raise error(os.fsdecode(path))
        return real_io_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(io, "open", io_open)


def test_an_unreadable_file_is_quarantined_and_the_rest_go_on(bench, monkeypatch) -> None:
    drop(bench.home.inbox, VALID)
    (bench.home.inbox / "locked.eml").write_bytes(_mail(4))
    _age(bench.home.inbox / "locked.eml")
    _failing_open(monkeypatch, "locked.eml", lambda p: PermissionError(13, "Permission denied"))
    tick(bench.store, bench.home, load_config())
    assert {p.name for p in VALID} <= _registered_valid(bench)
    (bad,) = bench.store.items(states=["quarantined"])
    assert (bad["source"], bad["reason_code"]) == ("locked.eml", "unreadable")
    assert "Permission denied" in bad["reason"]
    assert [a["reason_code"] for a in read_alerts(bench.home)] == ["unreadable"]
    monkeypatch.undo()  # once readable again, the owner's retry has the bytes
    assert Path(bad["original_path"]).read_bytes() == _mail(4)


def test_a_file_that_vanishes_mid_read_is_skipped_with_an_alert(bench, monkeypatch) -> None:
    drop(bench.home.inbox, VALID)
    (bench.home.inbox / "gone.eml").write_bytes(_mail(5))
    _age(bench.home.inbox / "gone.eml")

    def vanish(path: str) -> OSError:
        os.unlink(path)
        return FileNotFoundError(2, "No such file or directory")

    _failing_open(monkeypatch, "gone.eml", vanish)
    result = tick(bench.store, bench.home, load_config())
    assert {p.name for p in VALID} == _registered_valid(bench)
    assert result.skipped == 1 and not list(bench.home.claimed.iterdir())
    assert [a["reason_code"] for a in read_alerts(bench.home)] == ["vanished"]


def test_a_file_that_cannot_be_claimed_is_alerted_once(bench, monkeypatch) -> None:
    drop(bench.home.inbox, VALID)
    (bench.home.inbox / "stuck.eml").write_bytes(_mail(6))
    _age(bench.home.inbox / "stuck.eml")
    real_rename = os.rename

    def refuse(source, target):
        if str(source).endswith("stuck.eml"):
            raise PermissionError(13, "Permission denied")
        return real_rename(source, target)

    monkeypatch.setattr("sensors.intake.os.rename", refuse)
    for _ in range(3):
        tick(bench.store, bench.home, load_config())
    assert {p.name for p in VALID} == _registered_valid(bench)
    assert [a["reason_code"] for a in read_alerts(bench.home)] == ["cannot_claim"]
    assert os.listdir(bench.home.inbox) == ["stuck.eml"]  # left for a later tick


# --------------------------------------------------------------------------- property

# Any bytes a Linux file name may hold (no "/" or NUL), not hidden, not a temp file.
NAMES = st.binary(min_size=1, max_size=120).filter(
    lambda n: (
        b"/" not in n and b"\x00" not in n and not n.startswith(b".") and not n.endswith(b".tmp")
    )
)
KINDS = ["mail", "mail", "mail", "empty", "dir", "fifo", "loop", "garbage", "json"]
_numbers = itertools.count(1000)


def _make(inbox: bytes, name: bytes, kind: str) -> None:
    # Mail is judged by its suffix (a Maildir name aside), so mail gets one; the rest may not.
    path = os.path.join(inbox, name + (b".eml" if kind in ("mail", "empty") else b""))
    if kind == "dir":
        os.mkdir(path)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "loop":
        os.symlink(os.path.basename(path), path)
    else:
        data = {"mail": _mail(next(_numbers)), "empty": b"", "garbage": bytes(range(256))}
        with open(path, "wb") as handle:
            handle.write(data.get(kind, b"{"))
    _age(path)


@pytest.fixture(scope="module")
def claims(tmp_path_factory):
    """One home for all examples (a store per example would cost a migration each)."""
    home = open_home(tmp_path_factory.mktemp("claims") / "home")
    store = store_for(home.store_url)
    yield home, store
    store.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries=st.dictionaries(NAMES, st.sampled_from(KINDS), min_size=1, max_size=8))
def test_claim_step_property_every_mail_registered_in_one_tick(claims, entries) -> None:
    home, store = claims
    before = store.items()
    inbox = os.fsencode(home.inbox)
    for name, kind in entries.items():
        _make(inbox, name, kind)
    result = tick(store, home, load_config(), now=time.time())
    items = store.items()[len(before) :]
    mails = sum(kind == "mail" for kind in entries.values())
    assert sum(i["state"] == "received" for i in items) == mails == result.registered
    assert len(items) == len(entries)  # every entry rests somewhere visible
    assert all(i["state"] in ("received", "quarantined") for i in items)
    assert os.listdir(inbox) == []
