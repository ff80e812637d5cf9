"""No model call paid twice, across processes too: a request in flight is claimed in the store,
a second asker waits for its answer, or takes the claim over when its owner died."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from resources.llm.scripted import ScriptedModel
from resources.llm.stub_server import StubServer
from resources.store import Store
from resources.store.call_claims import Asker

ASKER = Path(__file__).with_name("model_call_asker.py")
CONCURRENCY = 4


@pytest.fixture
def store_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    Store(url).close()  # migrated once, before the askers start
    return url


def _stub(latency_s: float) -> StubServer:
    return StubServer(
        latency_s=latency_s, scripted=ScriptedModel({"answer": lambda text: {"category": "s"}})
    )


def _ask(store_url: str, stub: StubServer, *, claim_ttl_s: float) -> subprocess.Popen[str]:
    command = [sys.executable, str(ASKER), store_url, stub.url, "20", str(CONCURRENCY)]
    return subprocess.Popen(
        [*command, str(claim_ttl_s)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _answered(out: str) -> int:
    return sum(line.startswith("ok ") for line in out.splitlines())


def _wait_for(condition, timeout_s: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_two_processes_asking_the_same_requests_pay_for_each_once(store_url) -> None:
    """Before, both processes missed the ledger and both paid: 2 requests per hash."""
    with _stub(latency_s=0.5) as stub:
        askers = [_ask(store_url, stub, claim_ttl_s=30) for _ in range(2)]
        outputs = [asker.communicate(timeout=120) for asker in askers]
    for asker, (out, err) in zip(askers, outputs, strict=True):
        assert asker.returncode == 0, err[-2000:]
        assert _answered(out) == 20, out
    assert len(stub.by_hash) == 20 and max(stub.by_hash.values()) == 1
    store = Store(store_url)
    assert store.call_totals()["model_calls"] == 20
    assert all(store.call_claim(h) is None for h in stub.by_hash)  # no claim left behind


def test_a_killed_owner_is_taken_over_and_only_its_calls_in_flight_are_paid_again(
    store_url,
) -> None:
    """The claims outlive a SIGKILL of their owner; the asker waiting on them sees the owner
    gone and takes them over at once (long before they would expire)."""
    with _stub(latency_s=1.0) as stub:
        owner = _ask(store_url, stub, claim_ttl_s=600)
        _wait_for(lambda: stub.requests >= CONCURRENCY, 60)
        waiter = _ask(store_url, stub, claim_ttl_s=600)
        time.sleep(2.0)  # the waiter is up and waiting on the owner's claims
        os.kill(owner.pid, signal.SIGKILL)
        owner.communicate(timeout=30)
        started = time.monotonic()
        out, err = waiter.communicate(timeout=120)
        waited = time.monotonic() - started
    assert waiter.returncode == 0, err[-2000:]
    assert _answered(out) == 20, out
    assert len(stub.by_hash) == 20
    assert sum(stub.by_hash.values()) - 20 <= CONCURRENCY  # at most the calls in flight
    assert waited < 60  # taken over, not waited out (the claims last 600 s)


# ------------------------------------------------------------------ the compare-and-set
def test_a_claim_has_one_owner_until_released_or_expired(store_url) -> None:
    store = Store(store_url)
    me, other = Asker("h", 1, 1), Asker("h", 1, 2)
    assert store.claim_call("k", me, 30)
    assert store.claim_call("k", me, 30)  # a retry by the same asker
    assert not store.claim_call("k", other, 30)
    assert not store.renew_call_claim("k", other, 30)
    store.release_call_claim("k", other)  # not the owner's: nothing happens
    assert store.call_claim("k")["owner"] == me.id
    store.release_call_claim("k", me)
    assert store.call_claim("k") is None and store.claim_call("k", other, -1)
    assert store.claim_call("k", me, 30)  # the other's claim expired: taken over


def test_a_gone_owner_is_taken_over_only_as_seen(store_url) -> None:
    store = Store(store_url)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    me = Asker.current()
    gone, other = Asker(me.host, dead.pid, 1), Asker(me.host, os.getpid(), 99)
    assert store.claim_call("k", gone, 600)
    claim = store.call_claim("k")
    assert me.sees_gone(claim) and not me.sees_gone(store.call_claim("k") | {"host": "elsewhere"})
    assert store.take_over_call("k", gone.id, other, 600)
    assert not store.take_over_call("k", gone.id, me, 600)  # someone was quicker: refused
    assert store.call_claim("k")["owner"] == other.id
