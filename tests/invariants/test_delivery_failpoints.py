"""A drain killed (SIGKILL, as a power cut would stop it) after each mark it makes — the item
moved to `sending`, the intent, the attempt, the send, the receipt, `confirmed` — and then run
again: each Message-ID accepted at most once by a real SMTP server, each outbox file written
once, nothing left in flight, and what may have arrived waiting for the owner. And two drains
in two processes at the same time send each delivery once."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import SmtpSink, batch_assets, permissive_policy, write_config

from ops_assets.defs.delivery.ledger import FAILPOINTS

pytestmark = pytest.mark.slow

# One drain, as a run worker does it, in a process of its own. Each process has its own
# ephemeral Dagster instance, so it cannot see the other's run: a held delivery lock looks
# abandoned and is taken over — the overlap the ledger's compare-and-set must survive.
DRAIN = """
import json, os, sys, time
from pathlib import Path
import dagster as dg
from location.definitions import resource_defs
from ops_assets.defs.delivery.assets import delivery
go = os.environ.get("DRAIN_GO")
if go:
    Path(go + "." + sys.argv[1]).touch()
    while not Path(go).exists():
        time.sleep(0.01)
with dg.DagsterInstance.ephemeral() as instance:
    start = time.time()
    result = dg.materialize([delivery], resources=resource_defs(), instance=instance)
    drained = bool(result.asset_materializations_for_node("delivery"))  # none: lock held
    print(json.dumps({"start": start, "end": time.time(), "drained": drained}))
"""
MAY_HAVE_ARRIVED = "may have arrived"


def _start(name: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", DRAIN, name],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _drain(**env: str) -> int:
    process = _start("one", **env)
    _, err = process.communicate(timeout=180)
    assert process.returncode in (0, -9), err[-3000:]
    return process.returncode


@pytest.fixture
def approved(bench, monkeypatch, tmp_path):
    def make(config: Path, count: int) -> list[dict]:
        monkeypatch.setenv("OPSBENCH_POLICY", str(permissive_policy(tmp_path / "policy.yaml")))
        monkeypatch.setenv("OPSBENCH_CONFIG", str(config))
        mail = tmp_path / "mail"
        mail.mkdir()
        for n in range(count):
            (mail / f"m{n}.json").write_text(
                json.dumps(
                    {
                        "from": f"Client {n} <client{n}@example{n}.com>",
                        "subject": f"Page update {n} fails",
                        "body": f"Hello, the update {n} to our page is not working. Any help?",
                    }
                )
            )
        key = bench.intake(sorted(mail.iterdir()))
        bench.materialize(batch_assets(), key)
        ready = bench.store.items(states=["approved"])
        assert len(ready) == count
        return ready

    return make


def _at_rest(bench) -> tuple[list[dict], list[dict]]:
    items = bench.store.items()
    assert not [i for i in items if i["state"] in ("approved", "sending")]  # nothing in flight
    delivered = [i for i in items if i["state"] == "delivered"]
    for item in delivered:
        (row,) = bench.store.deliveries_for(item["id"])
        assert row["state"] == "confirmed"
    return delivered, [i for i in items if i["state"] == "awaiting_human"]


@pytest.mark.parametrize("point", FAILPOINTS)
def test_smtp_drain_killed_after_each_mark(bench, approved, tmp_path, point) -> None:
    with SmtpSink() as sink:
        config = write_config(
            tmp_path / "c.yaml", smtp={"enabled": True, "port": sink.port, "rate_per_minute": None}
        )
        ready = approved(config, count=2)
        assert _drain(OPSBENCH_FAILPOINT=f"delivery:{point}:smtp") == -9
        assert _drain() == 0  # restarted
        sent = sink.message_ids()

    assert set(sent.values()) <= {1}  # each Message-ID accepted at most once
    delivered, unsure = _at_rest(bench)
    if point in ("after_attempt", "after_send"):
        # Counted, maybe sent, no receipt: never resent, the owner decides.
        (held,) = unsure
        assert held["reason_code"] == "delivery_unconfirmed"
        assert MAY_HAVE_ARRIVED in held["reason"]
        assert len(delivered) == len(ready) - 1
        assert len(sent) == len(ready) - (point == "after_attempt")
    else:
        assert unsure == [] and len(delivered) == len(sent) == len(ready)
    for item in delivered:
        (row,) = bench.store.deliveries_for(item["id"])
        assert any(m.startswith(f"<{row['id']}@") for m in sent)


@pytest.mark.parametrize("point", FAILPOINTS)
def test_outbox_drain_killed_after_each_mark_delivers_everything_once(
    bench, approved, tmp_path, point
) -> None:
    """The outbox dedupes by file name: every crash ends delivered, one file per reply."""
    config = write_config(tmp_path / "c.yaml", outbox={"rate_per_minute": None})
    ready = approved(config, count=2)
    assert _drain(OPSBENCH_FAILPOINT=f"delivery:{point}:outbox") == -9
    assert _drain() == 0
    delivered, unsure = _at_rest(bench)
    assert unsure == [] and len(delivered) == len(ready)
    files = sorted(p.stem for p in bench.home.outbox.glob("*.eml"))
    assert files == sorted(bench.store.deliveries_for(i["id"])[0]["id"] for i in delivered)


def test_two_drains_in_two_processes_send_each_delivery_once(bench, approved, tmp_path) -> None:
    with SmtpSink(delay_s=0.3) as sink:
        config = write_config(
            tmp_path / "c.yaml", smtp={"enabled": True, "port": sink.port, "rate_per_minute": None}
        )
        ready = approved(config, count=6)
        go = tmp_path / "go"
        drains = [_start(name, DRAIN_GO=str(go)) for name in ("a", "b")]
        deadline = time.monotonic() + 120
        while not all(Path(f"{go}.{n}").exists() for n in ("a", "b")):
            assert time.monotonic() < deadline and all(d.poll() is None for d in drains)
            time.sleep(0.05)
        go.touch()  # both start draining at the same moment
        runs = []
        for process in drains:
            out, err = process.communicate(timeout=180)
            assert process.returncode == 0, err[-3000:]
            runs.append(json.loads(out.strip().splitlines()[-1]))
        sent = sink.message_ids()

    first, second = sorted(runs, key=lambda r: r["start"])
    assert second["start"] < first["end"]  # they really overlapped,
    assert first["drained"] and second["drained"]  # and neither left it to the other
    assert len(sent) == len(ready) and set(sent.values()) == {1}  # each delivery once
    delivered, unsure = _at_rest(bench)
    assert unsure == [] and len(delivered) == len(ready)
