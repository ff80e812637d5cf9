"""Invariant 1: every input comes to rest in one visible state, even after a SIGKILL or
against hostile mail."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from support import HOSTILE, OPSBENCH, REPO

from resources.llm.stub_server import StubServer
from resources.store import RESTING

pytestmark = pytest.mark.slow


def _demo(home: Path, inbox: Path, llm: str, **popen) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            *OPSBENCH,
            "demo",
            "--inbox",
            str(inbox),
            "--home",
            str(home),
            "--llm",
            llm,
            "--json",
            "--timeout",
            "240",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **popen,
    )


def _items(home: Path) -> list[dict]:
    done = subprocess.run(
        [*OPSBENCH, "items", "--home", str(home), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def _many_mails(folder: Path, count: int) -> Path:
    folder.mkdir()
    for n in range(count):
        (folder / f"m{n:03d}.eml").write_text(
            f"From: Client {n} <c{n}@client{n % 5}.example>\nTo: alex@northwind.example\n"
            f"Subject: Login problem {n}\nMessage-ID: <m{n}@client.example>\n\n"
            f"Hello, I cannot log in to the dashboard since this morning (case {n}).\n"
        )
    return folder


def test_sigkill_mid_batch_then_demo_again_loses_nothing_and_sends_nothing_twice(
    tmp_path, monkeypatch
) -> None:
    inbox = _many_mails(tmp_path / "in", 30)
    home = tmp_path / "h"
    monkeypatch.setenv("OPSBENCH_MODEL", "stub")
    with StubServer(latency_s=0.05) as server:
        victim = _demo(home, inbox, server.url, env=dict(os.environ))
        deadline = time.monotonic() + 120
        while server.requests < 25 and time.monotonic() < deadline and victim.poll() is None:
            time.sleep(0.01)
        assert victim.poll() is None, "the demo finished before it could be killed"
        os.killpg(victim.pid, signal.SIGKILL)
        victim.communicate()
        killed_at = server.requests

        (tmp_path / "empty").mkdir()
        survivor = _demo(home, tmp_path / "empty", server.url, env=dict(os.environ))
        _, err = survivor.communicate(timeout=300)
        assert survivor.returncode == 0, (
            err[-2000:],
            [
                (i["source"], i["state"], i["reason_code"])
                for i in _items(home)
                if i["state"] not in RESTING
            ],
        )
        # Only calls in flight at the kill (unstored) may have been asked twice.
        twice = [h for h, n in server.by_hash.items() if n > 1]
        assert len(twice) <= 4, (killed_at, twice)

    items = _items(home)
    assert sorted(i["source"] for i in items) == sorted(p.name for p in inbox.iterdir())
    assert all(i["state"] in RESTING for i in items)
    delivered = [i for i in items if i["state"] == "delivered"]
    assert delivered and all(len(i["deliveries"]) == 1 for i in delivered)
    outbox = sorted(p.stem for p in (home / "outbox").glob("*.eml"))
    assert outbox == sorted(i["deliveries"][0] for i in delivered)


def test_hostile_inbox_every_file_rests_with_a_reason(tmp_path) -> None:
    expected = json.loads((REPO / "tests" / "data" / "hostile_expected.json").read_text())
    inbox = tmp_path / "hostile"
    inbox.mkdir()
    for path in HOSTILE.iterdir():
        (inbox / path.name).write_bytes(path.read_bytes())
    (inbox / "oversize.eml").write_bytes(
        b"From: big@client.example\nSubject: big\n\n" + b"x" * 1_100_000
    )
    expected["oversize.eml"] = {"parse": "quarantine", "reason_code": "oversize"}

    done = subprocess.run(
        [
            *OPSBENCH,
            "demo",
            "--inbox",
            str(inbox),
            "--home",
            str(tmp_path / "h"),
            "--llm",
            "scripted",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    items = {i["source"]: i for i in _items(tmp_path / "h")}
    assert sorted(items) == sorted(p.name for p in inbox.iterdir())
    for name, item in items.items():
        assert item["state"] in RESTING, (name, item)
        assert item["reason_code"] or item["state"] == "delivered", (name, item)
        if expected.get(name, {}).get("parse") == "quarantine":
            assert (item["state"], item["reason_code"]) == (
                "quarantined",
                expected[name]["reason_code"],
            ), name
            kept = list((tmp_path / "h" / "quarantine").glob(f"{item['id']}--*"))
            assert len(kept) == 2  # the original bytes and the reason beside them
    injected = [i for n, i in items.items() if "inject" in n]
    for item in injected:  # nothing from the message text changed who we write to
        for delivery_id in item["deliveries"]:
            text = (tmp_path / "h" / "outbox" / f"{delivery_id}.eml").read_text()
            assert "evil.example" not in text.split("\n\n", 1)[0]
