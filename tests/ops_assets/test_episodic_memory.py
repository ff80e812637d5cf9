"""episodic_memory under faults: a crash between writing rows and marking items remembered
adds nothing on the re-run; an embeddings endpoint that is down fails the run and loses
nothing; a table from before vectors is rebuilt whole; an embeddings key never lands on disk."""

import threading

import pytest
from support import CANARIES, assert_no_canary, batch_assets, outcome_assets

from ops_assets.defs.memory.assets import episodic_memory
from resources.llm.local_server import free_port
from resources.memory import EPISODIC, Memory
from resources.memory.embed_server import make_server
from resources.memory.embeddings import HashingEmbedder
from resources.store import RESTING, Store


def _rows(bench) -> list[dict]:
    return Memory(bench.home.memory).rows(EPISODIC)


def test_a_crash_before_marking_rewrites_the_same_rows(bench, monkeypatch) -> None:
    key = bench.intake()
    bench.materialize(batch_assets(), key)
    resting = len(bench.store.unremembered())

    def crash(self, item_id, **fields):  # the process dies right after the LanceDB write
        raise RuntimeError("killed")

    with monkeypatch.context() as patch:
        patch.setattr(Store, "update_fields", crash)
        assert not bench.materialize([episodic_memory], raise_on_error=False).success
    written = _rows(bench)
    assert written and len(bench.store.unremembered()) == resting  # nothing marked
    assert bench.materialize([episodic_memory]).success
    again = _rows(bench)
    assert sorted(r["row_id"] for r in again) == sorted(r["row_id"] for r in written)
    assert not bench.store.unremembered()


def test_embeddings_down_fails_the_run_and_loses_nothing(bench, monkeypatch) -> None:
    key = bench.intake()
    bench.materialize(batch_assets(), key)
    states = {i["id"]: i["state"] for i in bench.store.items()}
    monkeypatch.setenv("OPSBENCH_EMBEDDER", f"http://127.0.0.1:{free_port()}/v1")
    monkeypatch.setenv("OPSBENCH_EMBEDDING_MODEL", "hashing-384")
    result = bench.materialize(outcome_assets(), raise_on_error=False)
    assert not result.success
    assert {i["id"]: i["state"] for i in bench.store.items()}.keys() == states.keys()
    assert bench.store.unremembered()  # still waiting: the outcomes sensor asks again
    monkeypatch.setenv("OPSBENCH_EMBEDDER", "hashing")
    assert bench.materialize([episodic_memory]).success
    assert not bench.store.unremembered()


def test_a_text_only_table_from_before_vectors_is_rebuilt(bench) -> None:
    key = bench.intake()
    bench.materialize(batch_assets(), key)
    import lancedb

    db = lancedb.connect(str(bench.home.memory))
    db.create_table(EPISODIC, data=[{"row_id": "old:received", "item_id": "old", "text": "x"}])
    for item in bench.store.items():  # remembered by the old code
        bench.store.update_fields(item["id"], remembered_state=item["state"])
    assert bench.materialize([episodic_memory]).success
    resting = {i["id"] for i in bench.store.items(states=RESTING)}
    assert {r["item_id"] for r in _rows(bench)} == resting  # and not the old row
    assert Memory(bench.home.memory).embedding(EPISODIC)["embedding_model"] == "hashing-384"


@pytest.mark.slow
def test_an_embeddings_key_is_used_and_never_stored(bench, monkeypatch) -> None:
    seen: set[str] = set()
    # The server demands the key the endpoint is configured with.
    server = make_server(0, HashingEmbedder(), CANARIES["OPSBENCH_API_KEY"])  # type: ignore[arg-type]
    handler = server.RequestHandlerClass
    original = handler.do_POST

    def recording(self) -> None:  # type: ignore[no-untyped-def]
        seen.add(self.headers.get("Authorization", ""))
        original(self)

    handler.do_POST = recording  # type: ignore[method-assign]
    server.ready.set()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for name, value in CANARIES.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("OPSBENCH_EMBEDDER", f"http://127.0.0.1:{server.server_address[1]}/v1")
    monkeypatch.setenv("OPSBENCH_EMBEDDING_MODEL", "all-MiniLM-L6-v2")
    try:
        key = bench.intake()
        bench.materialize(batch_assets(), key)
        assert bench.materialize(outcome_assets()).success
    finally:
        server.shutdown()
        server.server_close()
    assert seen == {f"Bearer {CANARIES['OPSBENCH_API_KEY']}"}
    assert_no_canary(bench.home.root)


def test_a_writer_that_finishes_within_the_wait_leaves_the_next_its_turn(bench) -> None:
    """Two outcomes runs overlap (the sensor launches a second while the first remembers):
    the second waits for the memory lock instead of leaving its items unremembered."""
    import os
    import threading

    from resources.memory import WRITE_LOCK

    bench.materialize(batch_assets(), bench.intake())
    assert bench.store.unremembered()
    holder = f"erase-{os.getpid()}-2"  # a live holder (this process) until it lets go
    assert bench.store.acquire_lock(WRITE_LOCK, holder, lambda _h: False)
    threading.Timer(1.5, bench.store.release_lock, (WRITE_LOCK, holder)).start()
    result = bench.materialize([episodic_memory])
    assert result.asset_materializations_for_node("episodic_memory")
    assert not bench.store.unremembered()


def test_nothing_to_remember_takes_no_lock(bench, monkeypatch) -> None:
    """A run with nothing new leaves the lock to the writers that have work (an archivist
    launched just then found it held by an outcomes run that had nothing to write)."""
    bench.materialize(batch_assets(), bench.intake())
    bench.materialize([episodic_memory])
    assert not bench.store.unremembered()

    def refuse(*args, **kwargs):
        raise AssertionError("took the memory lock with nothing to write")

    monkeypatch.setattr(Store, "acquire_lock", refuse)
    result = bench.materialize([episodic_memory])
    assert result.success and not result.asset_materializations_for_node("episodic_memory")
