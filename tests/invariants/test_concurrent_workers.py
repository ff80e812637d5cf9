"""Workers racing on one store, on SQLite and on Postgres: every contested change is a
compare-and-set, so the budget is never exceeded, an item moves once, a lock has one holder.

Each worker is a thread with its own Store (its own engine and connections): the races are
between database sessions, as between processes.
"""

import threading
from collections.abc import Callable
from typing import Any

import pytest

from resources.store import BudgetExhausted, Store


@pytest.fixture
def store_url(store_backend: str | None, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """The store's URL on each backend (tests/invariants/conftest.py runs both)."""
    return store_backend or f"sqlite:///{tmp_path / 'store.sqlite'}"


def _race(url: str, workers: int, work: Callable[[Store, int], Any]) -> list[Any]:
    """Run `work(store, i)` in `workers` threads released at once; their results."""
    stores = [Store(url) for _ in range(workers)]
    start = threading.Barrier(workers)
    results: list[Any] = [None] * workers
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait()
            results[i] = work(stores[i], i)
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    if errors:
        raise errors[0]
    return results


def test_racing_reservations_never_exceed_the_budget(store_url) -> None:
    Store(store_url).close()  # migrated once, before the race

    def reserve_all(store: Store, worker: int) -> int:
        won = 0
        for n in range(5):
            try:
                store.reserve(f"h{worker}-{n}", 0.3, daily_budget_usd=2.0)
                won += 1
            except BudgetExhausted:
                pass
        return won

    won = _race(store_url, 8, reserve_all)
    store = Store(store_url)
    assert sum(won) == 6  # 6 x 0.3 fits in 2.0, a 7th would not
    assert store.budget_usage()["daily"] == pytest.approx(1.8)
    assert len(store.audit_for_event("budget_refused")) == 8 * 5 - 6
    store.close()


def test_two_workers_racing_one_transition_move_it_once(store_url) -> None:
    store = Store(store_url)
    ids = [f"item-{n}" for n in range(20)]
    for item_id in ids:
        store.register({"id": item_id, "source": f"{item_id}.eml", "kind": "eml"}, batch="b")

    def move(worker_store: Store, worker: int) -> list[str]:
        targets = ("triaged", "no_action")
        return [
            i
            for i in ids
            if worker_store.transition(i, targets[worker], actor=f"w{worker}", expect=("received",))
        ]

    first, second = _race(store_url, 2, move)
    assert sorted(first + second) == sorted(ids)  # each item moved by exactly one of them
    for item_id in ids:
        moves = [e for e in store.audit_for(item_id) if e["event"] == "state"]
        assert len(moves) == 1
        assert store.get_item(item_id)["state"] == moves[0]["detail"]["to"]
    store.close()


def test_two_workers_racing_a_batch_transition_move_each_item_once(store_url) -> None:
    store = Store(store_url)
    ids = [f"item-{n}" for n in range(30)]
    for item_id in ids:
        store.register({"id": item_id, "source": f"{item_id}.eml", "kind": "eml"}, batch="b")

    def move(worker_store: Store, worker: int) -> list[str]:
        order = ids if worker == 0 else ids[::-1]
        return [
            i
            for i in order
            for _moved in worker_store.transition_many([i], ("received",), "triaged", actor="w")
        ]

    first, second = _race(store_url, 2, move)
    assert sorted(first + second) == sorted(ids)
    assert all(len(store.audit_for(i)) == 2 for i in ids)  # registered + one move
    store.close()


def test_two_workers_racing_a_lock_one_holds_it(store_url) -> None:
    Store(store_url).close()
    rounds = 10

    def take(store: Store, worker: int) -> list[bool]:
        return [
            store.acquire_lock(f"drain-{n}", f"run-{worker}", lambda _owner: False)
            for n in range(rounds)
        ]

    first, second = _race(store_url, 2, take)
    store = Store(store_url)
    for n in range(rounds):
        assert first[n] != second[n]  # exactly one of the two holds each lock
        assert store.lock_holder(f"drain-{n}")["owner"] == ("run-0" if first[n] else "run-1")
    store.close()


def test_a_live_holder_past_the_ttl_keeps_its_lock(store_url) -> None:
    """A holder whose work outlasts the lock's ttl (a long delivery drain, a big memory write)
    keeps it while alive: `holding_lock` renews it, so a second worker cannot take it over as
    if the first were dead. A plain acquire is taken over once its ttl passes."""
    import time

    first, second = Store(store_url), Store(store_url)
    try:
        assert first.acquire_lock("plain", "run-a", lambda _o: False, ttl_s=0.3)
        time.sleep(0.5)
        assert second.acquire_lock("plain", "run-b", lambda _o: False)  # expired: taken over

        with first.holding_lock("drain", "run-a", lambda _o: False, ttl_s=0.3) as held:
            assert held
            time.sleep(0.9)  # three ttls
            assert not second.acquire_lock("drain", "run-b", lambda _o: False)
        assert first.lock_holder("drain") is None  # released at the end of the block
        assert second.acquire_lock("drain", "run-b", lambda _o: False)

        with first.holding_lock("drain", "run-a", lambda _o: False) as held:
            assert not held  # run-b holds it: the body learns it, nothing is renewed
        assert second.lock_holder("drain")["owner"] == "run-b"
    finally:
        first.close()
        second.close()
