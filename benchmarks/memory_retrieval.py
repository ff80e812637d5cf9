"""Memory retrieval in LanceDB: insert throughput, query latency (p50/p99) and recall@10
against exact search, at N rows of synthetic clustered 384-dim vectors, with and without a
contact filter — to choose the index type and parameters by measurement.

Run on purpose (never in CI); one process, all variants side by side, so the ratios hold on
a noisy machine:

    python benchmarks/memory_retrieval.py [--rows 100000] [--queries 200] [--out FILE]

Targets (the memory issue): p99 <= 20 ms at 100k rows and <= 50 ms at 1M, recall@10 >= 0.95.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

DIM, K, CLUSTERS, CONTACTS = 384, 10, 200, 2000


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


def timed_queries(table: Any, queries: np.ndarray, truth: list[set[int]], **opts: Any) -> dict:
    latencies, hits, wanted = [], 0, 0
    for n, query in enumerate(queries):
        started = time.perf_counter()
        search = table.search(query).distance_type("dot").limit(K).select(["row", "_distance"])
        if opts.get("nprobes"):
            search = search.nprobes(opts["nprobes"])
        if opts.get("refine"):
            search = search.refine_factor(opts["refine"])
        if opts.get("ef"):
            search = search.ef(opts["ef"])
        if opts.get("where"):
            search = search.where(opts["where"][n], prefilter=True)
        found = search.to_arrow()["row"].to_pylist()
        latencies.append((time.perf_counter() - started) * 1000)
        hits += len(truth[n] & set(found))
        wanted += len(truth[n])
    return {
        "p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "p99_ms": round(float(np.percentile(latencies, 99)), 2),
        "recall_at_10": round(hits / max(wanted, 1), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    import lancedb
    import pyarrow as pa

    rng = np.random.default_rng(7)
    vectors, contacts = clustered(args.rows, rng)
    probes = rng.integers(0, args.rows, args.queries)
    queries = vectors[probes] + 0.05 * rng.normal(size=(args.queries, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    truth = [exact(vectors, q, None) for q in queries]
    chosen = contacts[probes]
    truth_filtered = [
        exact(vectors, q, contacts == c) for q, c in zip(queries, chosen, strict=True)
    ]
    where = [f"contact = 'c{c}'" for c in chosen]

    results: dict[str, Any] = {"rows": args.rows, "dim": DIM, "queries": args.queries}
    with tempfile.TemporaryDirectory() as folder:
        db = lancedb.connect(folder)
        started = time.perf_counter()
        table = None
        for start in range(0, args.rows, 50_000):
            batch = pa.table(
                {
                    "row": np.arange(start, min(start + 50_000, args.rows)),
                    "contact": [f"c{c}" for c in contacts[start : start + 50_000]],
                    "vector": pa.FixedSizeListArray.from_arrays(
                        pa.array(vectors[start : start + 50_000].ravel()), DIM
                    ),
                }
            )
            if table is None:
                table = db.create_table("episodic", data=batch)
            else:
                table.add(batch)
        assert table is not None
        results["insert_rows_per_s"] = round(args.rows / (time.perf_counter() - started))
        from lancedb.index import Bitmap

        table.create_index("contact", config=Bitmap())  # the contact filter's own index

        results["exact"] = timed_queries(table, queries[:50], truth[:50])
        from lancedb.index import IvfHnswSq, IvfPq

        variants: list[tuple[str, Any, dict]] = [
            ("IVF_PQ default", IvfPq(distance_type="dot"), {}),
            (
                "IVF_PQ nprobes 20 refine 10",
                IvfPq(distance_type="dot"),
                {"nprobes": 20, "refine": 10},
            ),
            ("IVF_HNSW_SQ", IvfHnswSq(distance_type="dot"), {}),
            (
                "IVF_HNSW_SQ ef 100 refine 2",
                IvfHnswSq(distance_type="dot"),
                {"ef": 100, "refine": 2},
            ),
        ]
        results["variants"] = {}
        for name, config, search in variants:
            started = time.perf_counter()
            table.create_index("vector", config=config, replace=True)
            built = round(time.perf_counter() - started, 1)
            entry = {"build_s": built, **timed_queries(table, queries, truth, **search)}
            entry["with_contact_filter"] = timed_queries(
                table, queries, truth_filtered, where=where, **search
            )
            results["variants"][name] = entry
            print(name, json.dumps(entry), flush=True)

    out = Path(args.out or Path(__file__).with_name("results") / f"memory_{args.rows}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
