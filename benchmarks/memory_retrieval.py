"""Memory retrieval in LanceDB: insert throughput, query latency (p50/p99) and recall@10
against exact search, at N rows of synthetic clustered 384-dim vectors, with and without a
contact filter — to choose the index type and parameters by measurement.

Run on purpose (never in CI); one process, all variants side by side, so the ratios hold on
a noisy machine:

    python benchmarks/memory_retrieval.py --rows N [--queries 200] [--builds NAME ...] [--out FILE]

Each index is built once (a config listed twice, once) and then searched with several
settings, after one untimed pass of other queries to load it. "chosen" is what the memory
layer does: `resources.memory.tuning.index_config()` searched through `tune()`, with
tuning.DISTANCE everywhere; the other builds are the alternatives it was chosen over
(`--builds chosen IVF_HNSW_SQ IVF_FLAT` runs only those, e.g. to skip IVF_PQ at 1M rows).
Exact search is LanceDB's flat scan before any vector index. Results go to
`benchmarks/results/memory_N.json`.

Targets (the memory issue): p99 <= 20 ms at 100k rows and <= 50 ms at 1M, recall@10 >= 0.95,
with and without the contact filter (pre-filtered, Bitmap index on `contact`).
"""

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from resources.memory import tuning  # noqa: E402

DIM, K, CLUSTERS, CONTACTS, BATCH = 384, 10, 200, 2000, 50_000


def clustered(rows: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around CLUSTERS centres (texts on few topics look like this), and a
    contact per row."""
    centres = rng.normal(size=(CLUSTERS, DIM)).astype(np.float32)
    labels = rng.integers(0, CLUSTERS, rows)
    vectors = centres[labels] + 0.35 * rng.normal(size=(rows, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors, rng.integers(0, CONTACTS, rows)


def exact(vectors: np.ndarray, query: np.ndarray, mask: np.ndarray | None) -> set[int]:
    scores = vectors @ query
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    top = np.argpartition(-scores, K)[:K]
    return {int(i) for i in top if np.isfinite(scores[i])}  # a contact may have fewer than K


def settings(**opts: int) -> Callable[[Any], Any]:
    """A search setting for the alternatives: nprobes, ef, refine_factor (omitted: default)."""

    def tune(search: Any) -> Any:
        for name, value in opts.items():
            search = getattr(search, name)(value)
        return search

    return tune


def builds() -> list[tuple[str, Any, dict[str, Callable[[Any], Any]]]]:
    """(name, index config, {variant: search setting}) per index build."""
    from lancedb.index import IvfFlat, IvfHnswSq, IvfPq

    d = tuning.DISTANCE
    return [
        ("chosen", tuning.index_config(), {"chosen": tuning.tune}),
        ("IVF_PQ", IvfPq(distance_type=d), {
            "IVF_PQ, defaults": settings(),
            "IVF_PQ, nprobes 20, refine 10": settings(nprobes=20, refine_factor=10),
        }),
        ("IVF_HNSW_SQ", IvfHnswSq(distance_type=d), {
            "IVF_HNSW_SQ, defaults": settings(),
            "IVF_HNSW_SQ, ef 100, refine 2": settings(ef=100, refine_factor=2),
            "IVF_HNSW_SQ, ef 800, refine 2": settings(ef=800, refine_factor=2),
            "IVF_HNSW_SQ, ef 1500, refine 2": settings(ef=1500, refine_factor=2),
            "IVF_HNSW_SQ, ef 3000, refine 2": settings(ef=3000, refine_factor=2),
            "IVF_HNSW_SQ, ef 2000, no refine": settings(ef=2000),
        }),
        ("IVF_FLAT", IvfFlat(distance_type=d), {
            "IVF_FLAT, nprobes 20": settings(nprobes=20),
            "IVF_FLAT, nprobes 40": settings(nprobes=40),
        }),
    ]  # fmt: skip


def timed_queries(
    table: Any,
    queries: np.ndarray,
    truth: list[set[int]],
    tune: Callable,
    where: list | None = None,
) -> dict:
    latencies, hits, wanted = [], 0, 0
    for n, query in enumerate(queries):
        started = time.perf_counter()
        search = table.search(query).distance_type(tuning.DISTANCE).limit(K)
        search = tune(search.select(["row", "_distance"]))
        if where:
            search = search.where(where[n], prefilter=True)
        found = search.to_arrow()["row"].to_pylist()
        latencies.append((time.perf_counter() - started) * 1000)
        hits += len(truth[n] & set(found))
        wanted += len(truth[n])
    return {
        "p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "p99_ms": round(float(np.percentile(latencies, 99)), 2),
        "recall_at_10": round(hits / max(wanted, 1), 3),
    }


def fill(db: Any, vectors: np.ndarray, contacts: np.ndarray) -> Any:
    import pyarrow as pa

    table = None
    for start in range(0, len(vectors), BATCH):
        batch = pa.table(
            {
                "row": np.arange(start, min(start + BATCH, len(vectors))),
                "contact": [f"c{c}" for c in contacts[start : start + BATCH]],
                "vector": pa.FixedSizeListArray.from_arrays(
                    pa.array(vectors[start : start + BATCH].ravel()), DIM
                ),
            }
        )
        if table is None:
            table = db.create_table("episodic", data=batch)
        else:
            table.add(batch)
    return table


def queries_near(vectors: np.ndarray, count: int, rng: np.random.Generator) -> tuple:
    """Queries close to (not equal to) stored rows, and the rows they started from."""
    probes = rng.integers(0, len(vectors), count)
    queries = vectors[probes] + 0.05 * rng.normal(size=(count, DIM)).astype(np.float32)
    return queries / np.linalg.norm(queries, axis=1, keepdims=True), probes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--builds", nargs="+", help="build names to run (default: all)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    import lancedb
    from lancedb.index import Bitmap

    plan: list[tuple[str, Any, dict]] = []  # an index config listed twice is built once
    for name, config, searches in builds():
        if args.builds and name not in args.builds:
            continue
        same = next((build for build in plan if build[1] == config), None)
        if same:
            same[2].update(searches)
        else:
            plan.append((name, config, dict(searches)))

    rng = np.random.default_rng(7)
    vectors, contacts = clustered(args.rows, rng)
    queries, probes = queries_near(vectors, args.queries, rng)
    warm_up, _ = queries_near(vectors, args.queries, rng)
    truth = [exact(vectors, q, None) for q in queries]
    asked = contacts[probes]
    truth_filtered = [exact(vectors, q, contacts == c) for q, c in zip(queries, asked, strict=True)]
    where = [f"contact = 'c{c}'" for c in asked]

    results: dict[str, Any] = {"rows": args.rows, "dim": DIM, "queries": args.queries}
    search = {"nprobes": tuning.NPROBES, "ef": tuning.EF, "refine_factor": tuning.REFINE_FACTOR}
    results["chosen"] = {"index": repr(tuning.index_config()), "search": search}
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        table = fill(lancedb.connect(folder), vectors, contacts)
        results["insert_rows_per_s"] = round(args.rows / (time.perf_counter() - started))
        table.create_index("contact", config=Bitmap())  # the contact filter's own index
        results["exact"] = timed_queries(table, queries[:50], truth[:50], settings())
        results["variants"] = {}
        for name, config, searches in plan:
            started = time.perf_counter()
            table.create_index("vector", config=config, replace=True)
            built = round(time.perf_counter() - started, 1)
            print(f"{name}: {config} built in {built} s", flush=True)
            # Load the index into the cache with other queries, so each setting is timed warm.
            timed_queries(table, warm_up, [set()] * len(warm_up), next(iter(searches.values())))
            for variant, tune in searches.items():
                entry = {"build_s": built, **timed_queries(table, queries, truth, tune)}
                entry["with_contact_filter"] = timed_queries(
                    table, queries, truth_filtered, tune, where
                )
                results["variants"][variant] = entry
                print(variant, json.dumps(entry), flush=True)

    out = Path(args.out or Path(__file__).with_name("results") / f"memory_{args.rows}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
