"""The memory tables in LanceDB on disk: embedder recorded and enforced, versions reachable,
hybrid search filtered before it ranks, hostile query text harmless; the embedding server's
OpenAI-compatible contract; paid embeddings held to the budget; the real MiniLM offline."""

import base64
import json
import struct
import threading
import urllib.error
import urllib.request

import pytest

from resources.memory import EPISODIC, FACTS, EmbeddingError, Memory
from resources.memory.embed_server import make_server
from resources.memory.embeddings import (
    MINILM,
    EndpointEmbedder,
    HashingEmbedder,
    MiniLMEmbedder,
)
from resources.memory.metered import MeteredEmbedder
from resources.store import Store


def episode(row_id: str, contact: str, text: str, created_at: str = "2026-01-01") -> dict:
    return {
        "row_id": row_id,
        "item_id": row_id.split(":")[0],
        "contact": contact,
        "kind": "item",
        "text": text,
        "created_at": created_at,
    }


@pytest.fixture
def memory(tmp_path) -> Memory:
    return Memory(tmp_path / "memory", HashingEmbedder)


def test_the_embedder_is_recorded_and_another_is_refused(memory, tmp_path) -> None:
    memory.write(EPISODIC, [episode("a:item", "x@a.example", "hello")])
    assert memory.embedding(EPISODIC) == {"embedding_model": "hashing-384", "embedding_dim": "384"}

    other = Memory(memory.folder, lambda: HashingEmbedder(name="another-384"))
    with pytest.raises(EmbeddingError, match="holds vectors of hashing-384"):
        other.write(EPISODIC, [episode("b:item", "x@a.example", "hello")])
    with pytest.raises(EmbeddingError, match="configured embedder is another-384"):
        other.search(EPISODIC, "hello")
    # Reading rows needs no embedder at all.
    assert [r["row_id"] for r in Memory(memory.folder).rows(EPISODIC)] == ["a:item"]


def test_every_write_is_a_version_and_old_ones_stay_reachable(memory) -> None:
    memory.write(EPISODIC, [episode("a:item", "x@a.example", "first words")])
    first = memory.version(EPISODIC)
    memory.write(EPISODIC, [episode("a:item", "x@a.example", "second words")])  # same key
    assert memory.count(EPISODIC) == 1
    assert memory.rows(EPISODIC)[0]["text"] == "second words"
    assert memory.as_of(EPISODIC, first)[0]["text"] == "first words"
    assert memory.by_ids(EPISODIC, ["a:item"], version=first)[0]["text"] == "first words"
    assert len(memory.versions(EPISODIC)) >= 2


def test_search_is_filtered_before_ranking_and_hybrid(memory) -> None:
    rows = [
        episode(f"b{n}:item", "bob@b.example", f"invoice number {n} question") for n in range(30)
    ]
    rows.append(episode("a1:item", "ann@a.example", "my invoice is wrong"))
    rows.append(episode("a2:item", "ann@a.example", "login broken since monday"))
    memory.write(EPISODIC, rows)
    found = memory.search(EPISODIC, "invoice wrong", where="contact = 'ann@a.example'", limit=5)
    assert [r["row_id"] for r in found] == ["a1:item", "a2:item"]  # both of hers, best first
    assert all(r["contact"] == "ann@a.example" for r in found)
    # Full-text alone finds a word the vectors barely weigh.
    found = memory.search(EPISODIC, "monday", limit=3)
    assert found[0]["row_id"] == "a2:item"


@pytest.mark.parametrize(
    "query", ['"unbalanced', "a:b OR (", "*", "o'brien", "'; DROP TABLE episodic; --", "", "\\"]
)
def test_hostile_query_text_is_only_words(memory, query) -> None:
    memory.write(EPISODIC, [episode("a:item", "o'brien@a.example", "o'brien asks about a:b")])
    where = "contact = " + "'" + "o'brien@a.example".replace("'", "''") + "'"
    assert len(memory.search(EPISODIC, query, where=where, limit=3)) == 1
    assert memory.count(EPISODIC) == 1


def test_forget_drops_rows_and_every_older_version(memory) -> None:
    memory.write(EPISODIC, [episode("a:item", "ann@a.example", "ann's secret plan")])
    memory.write(EPISODIC, [episode("b:item", "bob@b.example", "bob's words")])
    fact = {
        "fact_id": "f1",
        "contact": "bob@b.example",
        "scope": "contact",
        "kind": "preference",
        "topic": "other",
        "status": "active",
        "text": "drawn from ann's item",
        "source_rows": ["a:item"],
        "source_items": ["a"],
    }
    memory.write(FACTS, [fact])
    removed = memory.forget(contact="ann@a.example", item_ids=["a"])
    assert removed.removed == {EPISODIC: 1, FACTS: 1}
    for table in (EPISODIC, FACTS):
        for version in memory.versions(table):
            assert "ann" not in json.dumps(memory.as_of(table, version["version"]))
    assert [r["row_id"] for r in memory.search(EPISODIC, "secret plan")] == ["b:item"]


def test_embedding_server_speaks_the_openai_contract(tmp_path) -> None:
    server = make_server(0, HashingEmbedder(), "home-key")  # type: ignore[arg-type]
    server.ready.set()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    auth = {"Authorization": "Bearer home-key"}
    try:
        client = EndpointEmbedder(url, MINILM, api_key="home-key")
        vectors = client.embed(["hello world", "invoice"])  # through the openai client
        assert len(vectors) == 2 and len(vectors[0]) == client.dim == 384
        assert vectors[0] == HashingEmbedder().embed(["hello world"])[0]
        # The openai client's default wire format is base64 float32.
        request = urllib.request.Request(
            f"{url}/embeddings",
            data=json.dumps({"input": "hello world", "encoding_format": "base64"}).encode(),
            headers={"Content-Type": "application/json", **auth},
        )
        with urllib.request.urlopen(request) as response:
            packed = json.load(response)["data"][0]["embedding"]
        decoded = struct.unpack("<384f", base64.b64decode(packed))
        assert decoded == pytest.approx(vectors[0], abs=1e-6)
        bad = urllib.request.Request(f"{url}/embeddings", data=b'{"input": []}', headers=auth)
        with pytest.raises(urllib.error.HTTPError, match="400"):
            urllib.request.urlopen(bad)
    finally:
        server.shutdown()
        server.server_close()


def test_embedding_server_admits_only_the_homes_own_tools() -> None:
    """No key, a foreign Host (DNS rebinding) or a foreign Origin: refused, nothing embedded."""
    embedder = HashingEmbedder()
    calls: list[int] = []
    original = embedder.embed
    embedder.embed = lambda texts: calls.append(len(texts)) or original(texts)  # type: ignore[method-assign]
    server = make_server(0, embedder, "home-key")  # type: ignore[arg-type]
    server.ready.set()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    body = b'{"input": "hello"}'

    def status(headers: dict[str, str]) -> int:
        import http.client

        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("POST", "/v1/embeddings", body=body, headers=headers)
            return connection.getresponse().status
        finally:
            connection.close()

    key = {"Authorization": "Bearer home-key", "Content-Type": "application/json"}
    try:
        assert status({"Content-Type": "application/json"}) == 401
        assert status({**key, "Authorization": "Bearer wrong"}) == 401
        assert status({**key, "Host": f"evil.example:{port}"}) == 403
        assert status({**key, "Origin": "http://evil.example"}) == 403
        assert status({**key, "Content-Type": "text/plain", "Origin": "null"}) == 403
        assert calls == []
        assert status(key) == 200 and calls == [1]
    finally:
        server.shutdown()
        server.server_close()


def test_a_down_endpoint_is_a_clear_error() -> None:
    from resources.llm.local_server import free_port

    down = EndpointEmbedder(f"http://127.0.0.1:{free_port()}/v1", "m", timeout_s=2)
    with pytest.raises(EmbeddingError, match="embeddings endpoint"):
        down.embed(["hello"])


def test_paid_embeddings_reserve_their_worst_case_and_stop_at_the_budget(tmp_path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}")
    calls = []

    class Endpoint(EndpointEmbedder):
        def embed(self, texts: list[str]) -> list[list[float]]:
            calls.append(texts)
            return HashingEmbedder().embed(texts)

    # 1 USD per million tokens; a 30-byte text reserves at most 38 tokens.
    metered = MeteredEmbedder(Endpoint("https://embed.invalid/v1", "m"), store, 1.0, 0.0001, None)
    for _ in range(2):
        metered.embed(["x" * 30])
    assert store.budget_usage()["memory"] == pytest.approx(2 * 38 / 1e6)
    with pytest.raises(EmbeddingError, match="budget"):
        metered.embed(["x" * 100_000])  # its worst case does not fit: never sent
    assert len(calls) == 2
    store.set_control("kill_switch", "on", actor="test")
    with pytest.raises(EmbeddingError, match="kill switch"):
        metered.embed(["x"])
    assert len(calls) == 2


@pytest.mark.slow
def test_minilm_offline_ranks_by_meaning(tmp_path) -> None:
    embedder = MiniLMEmbedder()
    assert (embedder.name, embedder.dim) == ("all-MiniLM-L6-v2", 384)
    memory = Memory(tmp_path / "memory", lambda: embedder)
    memory.write(
        EPISODIC,
        [
            episode("bill:item", "ann@a.example", "I was charged twice for my subscription"),
            episode("login:item", "ann@a.example", "The admin page rejects my password"),
        ],
    )
    (best, *_) = memory.search(EPISODIC, "double payment on my card")
    assert best["row_id"] == "bill:item"
    assert memory.embedding(EPISODIC)["embedding_model"] == "all-MiniLM-L6-v2"


def test_maintain_indexes_a_large_table_and_keeps_its_versions(memory, monkeypatch) -> None:
    from resources.memory import tuning

    monkeypatch.setattr(tuning, "INDEX_MIN_ROWS", 300)
    rows = [episode(f"r{n}:item", f"c{n % 7}@x.example", f"ticket {n} words") for n in range(320)]
    memory.write(EPISODIC, rows[:10])
    first = memory.version(EPISODIC)
    memory.write(EPISODIC, rows[10:])
    report = memory.maintain(keep_days=90)
    assert report[EPISODIC]["vector_index"] and report[EPISODIC]["rows"] == 320
    indexed = {tuple(i.columns) for i in memory.table(EPISODIC).list_indices()}
    assert {("vector",), ("contact",), ("text",)} <= indexed
    assert len(memory.as_of(EPISODIC, first)) == 10  # history kept within keep_days
    found = memory.search(EPISODIC, "ticket 5 words", where="contact = 'c5@x.example'", limit=3)
    assert found and all(r["contact"] == "c5@x.example" for r in found)
