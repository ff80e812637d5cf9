"""The two LanceDB memory tables under `<home>/memory`, with their provenance columns.

- `episodic`: what happened — every item, decision, outcome and human correction.
- `facts`: what the archivist consolidated from it per contact or company (preferences,
  commitments, open questions), each linking to the episodic rows it came from.

Every write is one new table version, so past states stay reachable (`versions`, `as_of`)
until an erase drops them. The embedder's name and dimension are recorded in each table's
schema metadata; a table refuses vectors from another embedder. LanceDB is imported lazily:
every Dagster run re-imports the code location and lancedb costs about a second.
"""

import datetime as dt
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resources.memory import tuning
from resources.memory.embeddings import Embedder, EmbeddingError

EPISODIC, FACTS = "episodic", "facts"
WRITE_LOCK = "memory"
"""The store lock every memory writer holds (episodic_memory, the archivist, an erase)."""
KEYS = {EPISODIC: "row_id", FACTS: "fact_id"}
_STRINGS = {
    EPISODIC: [
        "row_id",
        "item_id",
        "batch",
        "run_id",
        "memory_run_id",
        "asset",
        "prompt_version",
        "model",
        "contact",
        "company",
        "kind",
        "state",
        "reason_code",
        "category",
        "text",
        "created_at",
    ],
    FACTS: [
        "fact_id",
        "contact",
        "company",
        "scope",
        "project",
        "kind",
        "topic",
        "text",
        "status",
        "contradicts",
        "run_id",
        "asset",
        "prompt_version",
        "model",
        "created_at",
        "updated_at",
    ],
}
_LISTS = {EPISODIC: [], FACTS: ["source_rows", "source_items"]}


def quote(value: str) -> str:
    """A string literal for a LanceDB filter (addresses and ids come from outside)."""
    return "'" + str(value).replace("'", "''") + "'"


def quoted_list(values: Sequence[str]) -> str:
    """Literals for `IN (...)` / `[...]`; never empty (an empty list is a syntax error)."""
    return ", ".join(quote(v) for v in values) or "''"


def about(contact: str, item_ids: Sequence[str]) -> dict[str, str]:
    """Per table, the filter for everything memory holds about a contact: rows of their
    address or their items, and facts drawn from any of their items."""
    address, items = quote(contact.lower()), quoted_list(item_ids)
    return {
        EPISODIC: f"contact = {address} OR item_id IN ({items})",
        FACTS: f"contact = {address} OR array_has_any(source_items, [{items}])",
    }


def _schema(table: str, embedder: Embedder) -> Any:
    import pyarrow as pa

    fields = [pa.field(name, pa.string()) for name in _STRINGS[table]]
    fields += [pa.field(name, pa.list_(pa.string())) for name in _LISTS[table]]
    fields.append(pa.field("vector", pa.list_(pa.float32(), embedder.dim)))
    meta = {"embedding_model": embedder.name, "embedding_dim": str(embedder.dim)}
    return pa.schema(fields, metadata=meta)


@dataclass
class Forgotten:
    """What `forget` did: rows removed per table, facts kept because others stated them too,
    and the texts of removed facts drawn from their own words (to be looked for elsewhere;
    a fact drawn from our reply is in our words, which other replies share)."""

    removed: dict[str, int] = field(default_factory=dict)
    kept_shared: int = 0
    texts: list[str] = field(default_factory=list)


class Memory:
    """Both tables of one home. The embedder is made on first need: reading rows, counting,
    exporting and erasing never load a model."""

    def __init__(self, folder: Path, embedder: Callable[[], Embedder] | None = None) -> None:
        self.folder = folder
        self._make_embedder = embedder
        self._embedder: Embedder | None = None
        self._connection: Any = None

    # ------------------------------------------------------------ plumbing
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            if self._make_embedder is None:
                raise EmbeddingError("this memory handle was opened without an embedder")
            self._embedder = self._make_embedder()
        return self._embedder

    def _db(self) -> Any:
        if self._connection is None:  # one per handle: an agent asks per item
            import lancedb

            self.folder.mkdir(parents=True, exist_ok=True)
            self._connection = lancedb.connect(str(self.folder))
        return self._connection

    def table(self, name: str, version: int | None = None) -> Any | None:
        db = self._db()
        if name not in db.list_tables().tables:
            return None
        table = db.open_table(name)
        if version is not None:
            table.checkout(version)
        return table

    def embedding(self, name: str) -> dict[str, str]:
        """The embedder recorded with a table: {"embedding_model", "embedding_dim"}."""
        table = self.table(name)
        meta = (table.schema.metadata or {}) if table is not None else {}
        return {k.decode(): v.decode() for k, v in meta.items()}

    def _checked(self, name: str, table: Any) -> None:
        recorded = self.embedding(name).get("embedding_model")
        if recorded and recorded != self.embedder.name:
            raise EmbeddingError(
                f"memory table {name!r} holds vectors of {recorded}, but the configured "
                f"embedder is {self.embedder.name}: set memory.embedder back, or erase "
                f"{self.folder} to start memory afresh"
            )

    def legacy(self, name: str) -> bool:
        """A table from before vectors (the walking skeleton's text-only episodes)."""
        table = self.table(name)
        return table is not None and "vector" not in table.schema.names

    def drop(self, name: str) -> None:
        self._db().drop_table(name)

    # ------------------------------------------------------------ writing
    def write(self, name: str, rows: Sequence[dict[str, Any]]) -> int:
        """Insert or replace rows by key, with their text embedded, as one new version."""
        if not rows:
            return 0
        from lancedb.index import FTS

        missing = [r["text"] for r in rows if r.get("vector") is None]
        made = iter(self.embedder.embed(missing) if missing else [])
        vectors = [r["vector"] if r.get("vector") is not None else next(made) for r in rows]
        full = [self._complete(name, r, v) for r, v in zip(rows, vectors, strict=True)]
        db = self._db()
        table = self.table(name)
        if table is None:
            table = db.create_table(name, schema=_schema(name, self.embedder))
            table.add(full)
        else:
            if missing:  # rows that bring their vectors back (a status change) need no model
                self._checked(name, table)
            (
                table.merge_insert(KEYS[name])
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .execute(full)
            )
        if not any(i.index_type == "FTS" for i in table.list_indices()):
            # Later rows are searched unindexed until `maintain` folds them in.
            table.create_index("text", config=FTS(), replace=True)
        return len(full)

    @staticmethod
    def _complete(name: str, row: dict[str, Any], vector: list[float]) -> dict[str, Any]:
        full: dict[str, Any] = {c: str(row.get(c) or "") for c in _STRINGS[name]}
        full.update({c: [str(v) for v in row.get(c) or []] for c in _LISTS[name]})
        full["contact"] = full["contact"].lower()
        full["company"] = full["company"].lower()
        full["vector"] = vector
        return full

    def maintain(self, *, keep_days: float) -> dict[str, Any]:
        """Fold new rows into the indexes and compact; build the vector index once a table is
        large enough to need one. Versions younger than `keep_days` stay reachable."""
        report: dict[str, Any] = {}
        for name in (EPISODIC, FACTS):
            table = self.table(name)
            if table is None:
                continue
            table.optimize(cleanup_older_than=dt.timedelta(days=keep_days))
            rows = table.count_rows()
            indexed = {tuple(i.columns) for i in table.list_indices()}
            vector_index = ("vector",) in indexed
            if rows >= tuning.INDEX_MIN_ROWS and not vector_index:
                # Built once; later rows are folded in by optimize() without a retrain.
                table.create_index("vector", config=tuning.index_config(), replace=True)
                vector_index = True
            if rows >= tuning.INDEX_MIN_ROWS and ("contact",) not in indexed:
                # Retrieval always filters by contact before it ranks (the benchmark's
                # filtered figures are with this index).
                from lancedb.index import Bitmap

                table.create_index("contact", config=Bitmap())
            report[name] = {"rows": rows, "version": table.version, "vector_index": vector_index}
        return report

    # ------------------------------------------------------------ reading
    def rows(
        self, name: str, where: str | None = None, *, vectors: bool = False
    ) -> list[dict[str, Any]]:
        table = self.table(name)
        if table is None:
            return []
        found = (
            table.search().where(where).limit(None).to_list()
            if where
            else table.to_arrow().to_pylist()
        )
        return found if vectors else [_plain(r) for r in found]

    def count(self, name: str, where: str | None = None) -> int:
        table = self.table(name)
        return 0 if table is None else int(table.count_rows(where))

    def version(self, name: str) -> int | None:
        table = self.table(name)
        return None if table is None else int(table.version)

    def versions(self, name: str) -> list[dict[str, Any]]:
        table = self.table(name)
        if table is None:
            return []
        return [
            {"version": int(v["version"]), "timestamp": v["timestamp"]}
            for v in table.list_versions()
        ]

    def as_of(self, name: str, version: int) -> list[dict[str, Any]]:
        table = self.table(name, version)
        return [] if table is None else [_plain(r) for r in table.to_arrow().to_pylist()]

    def by_ids(
        self, name: str, ids: Sequence[str], version: int | None = None
    ) -> list[dict[str, Any]]:
        """Rows by key, read at `version` when it still exists (else the newest), in the
        order of `ids`; ids no longer there are left out."""
        if not ids:
            return []
        try:
            table = self.table(name, version)
        except (ValueError, OSError, RuntimeError):
            table = self.table(name)  # that version was dropped (an erase)
        if table is None:
            return []
        where = f"{KEYS[name]} IN ({quoted_list(ids)})"
        found = {
            r[KEYS[name]]: _plain(r) for r in table.search().where(where).limit(None).to_list()
        }
        return [found[i] for i in ids if i in found]

    def search(
        self, name: str, query: str, *, where: str | None = None, limit: int = 10
    ) -> list[dict[str, Any]]:
        """Hybrid search: nearest vectors and full-text matches, fused by reciprocal rank,
        among the rows `where` allows (applied before the search, so a filter never leaves
        fewer than `limit` hits while more exist)."""
        table = self.table(name)
        if table is None:
            return []
        self._checked(name, table)
        from lancedb.rerankers import RRFReranker

        (vector,) = self.embedder.embed([query])
        words = _words(query)
        if words:
            search = table.search(query_type="hybrid").vector(vector).text(words)
        else:
            search = table.search(vector)
        search = tuning.tune(search.distance_type(tuning.DISTANCE))
        if where:
            search = search.where(where, prefilter=True)
        if words:
            search = search.rerank(RRFReranker())
        return [_plain(r) for r in search.limit(limit).to_list()]

    # ------------------------------------------------------------ privacy
    def forget(self, *, contact: str, item_ids: list[str]) -> Forgotten:
        """Remove a contact: their episodes; facts drawn only from their mail; their sources
        from facts others stated too (kept, under a remaining source's contact). Then every
        older version goes and the text index is rebuilt — or a table left empty is dropped
        whole — so no file under the tables holds them. Rows are deleted by id: Lance keeps
        a delete's predicate in its manifest, and the address must not be in it."""
        address, erased, theirs = contact.lower(), set(item_ids), about(contact, item_ids)
        outcome = Forgotten()
        episodes = self.rows(EPISODIC, theirs[EPISODIC])
        outcome.removed[EPISODIC] = self._delete(EPISODIC, [r["row_id"] for r in episodes])
        facts = self.rows(FACTS, theirs[FACTS], vectors=True)
        sources = sorted({r for f in facts for r in f["source_rows"]})
        owner_of = {r["row_id"]: r["contact"] for r in self.by_ids(EPISODIC, sources)}
        kept = []
        for fact in facts:
            rows = [r for r in fact["source_rows"] if r.split(":", 1)[0] not in erased]
            others = [owner_of[r] for r in rows if owner_of.get(r, address) != address]
            if not others:
                if any(r.endswith(":item") for r in fact["source_rows"]):
                    outcome.texts.append(fact["text"])  # drawn from their own words
                continue
            contact_now = fact["contact"] if fact["contact"] != address else others[0]
            sources = sorted({r.split(":", 1)[0] for r in rows})
            kept.append(
                {**fact, "contact": contact_now, "source_rows": rows, "source_items": sources}
            )
        gone = [f["fact_id"] for f in facts if f["fact_id"] not in {k["fact_id"] for k in kept}]
        outcome.removed[FACTS] = self._delete(FACTS, gone)
        if kept:
            self.write(FACTS, kept)
        outcome.kept_shared = len(kept)
        for name in (EPISODIC, FACTS):
            self._drop_history(name)
        return outcome

    def _delete(self, name: str, keys: list[str]) -> int:
        table = self.table(name)
        if table is None or not keys:
            return 0
        table.delete(f"{KEYS[name]} IN ({quoted_list(keys)})")
        return len(keys)

    def _drop_history(self, name: str) -> None:
        from lancedb.index import FTS

        table = self.table(name)
        if table is None:
            return
        if not table.count_rows():
            self.drop(name)  # nothing left to keep: no old index or manifest survives
            return
        with warnings.catch_warnings():
            # Dropping every older version is the point of an erase (LanceDB warns that a
            # concurrent reader of an old version would fail; erase is an operator action).
            warnings.filterwarnings("ignore", message=r"optimize\(cleanup_older_than=0\)")
            table.optimize(cleanup_older_than=dt.timedelta(0), delete_unverified=True)
            table.create_index("text", config=FTS(), replace=True)
            table.optimize(cleanup_older_than=dt.timedelta(0), delete_unverified=True)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """A row without its vector (what callers show, store ids of, or put in prompts)."""
    return {k: v for k, v in row.items() if k != "vector"}


def _words(text: str, limit: int = 64) -> str:
    """The query's words only: mail text must never be read as full-text query syntax."""
    import re

    return " ".join(re.findall(r"\w+", text)[:limit])
