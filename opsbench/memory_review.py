"""The owner's verbs on memory: search it, list facts, and settle contradictions the
archivist held back (`opsbench memory ...`). A contested fact never replaces a known one on
its own; the owner keeps the new one, the old one, or both."""

from typing import Any

from resources.memory import EPISODIC, FACTS, Memory, quote
from resources.memory.embeddings import reader_for
from resources.settings.home import Home
from resources.store import Store, now_iso

KEEP = ("new", "old", "both")


class MemoryReviewError(Exception):
    """The fact does not exist or is not contested; the message says which."""


def reader(home: Home, config: Any) -> Memory:
    """Memory with the embedder its tables were written with (for searching them)."""
    memory = Memory(home.memory)
    recorded = memory.embedding(EPISODIC).get("embedding_model")
    return Memory(home.memory, lambda: reader_for(recorded, home.root, config.memory))


def search(
    memory: Memory, query: str, *, contact: str | None, table: str, limit: int
) -> list[dict[str, Any]]:
    where = f"contact = {quote(contact.lower())}" if contact else None
    return memory.search(table, query, where=where, limit=limit)


def facts(memory: Memory, contact: str | None = None) -> list[dict[str, Any]]:
    where = f"contact = {quote(contact.lower())}" if contact else None
    return sorted(memory.rows(FACTS, where), key=lambda f: (f["contact"], f["created_at"]))


def conflicts(memory: Memory) -> list[dict[str, Any]]:
    """Each contested fact beside the fact it contradicts."""
    contested = memory.rows(FACTS, "status = 'contested'")
    rivals = {f["fact_id"]: f for f in memory.by_ids(FACTS, [c["contradicts"] for c in contested])}
    return [{"fact": c, "contradicts": rivals.get(c["contradicts"])} for c in contested]


def resolve(memory: Memory, store: Store, fact_id: str, keep: str) -> dict[str, Any]:
    if keep not in KEEP:
        raise MemoryReviewError(f"--keep must be one of {', '.join(KEEP)}")
    found = memory.rows(FACTS, f"fact_id = {quote(fact_id)}", vectors=True)
    if not found:
        raise MemoryReviewError(f"no fact {fact_id}")
    fact = found[0]
    if fact["status"] != "contested":
        raise MemoryReviewError(f"{fact_id} is {fact['status']}, not contested")
    now = now_iso()
    changed = [{**fact, "status": "rejected" if keep == "old" else "active", "updated_at": now}]
    if keep == "new" and fact["contradicts"]:
        rivals = memory.rows(FACTS, f"fact_id = {quote(fact['contradicts'])}", vectors=True)
        changed += [{**r, "status": "superseded", "updated_at": now} for r in rivals]
    memory.write(FACTS, changed)  # vectors come along: nothing is embedded again
    store.audit(None, "operator", "fact_resolved", {"fact": fact_id, "keep": keep})
    return {"fact": fact_id, "keep": keep, "statuses": {r["fact_id"]: r["status"] for r in changed}}
