"""Vector index settings for memory tables, chosen by `benchmarks/memory_retrieval.py`.

Below INDEX_MIN_ROWS a table is searched exactly (brute force over a few thousand 384-d rows
takes a few milliseconds). From there on an IVF_HNSW_SQ index is built with LanceDB's default
partitioning, which aims at about a million rows per partition: up to that size the index is
one HNSW graph, and NPROBES only matters for larger tables. On clustered text embeddings that
graph needs a long candidate list (EF) for recall@10 >= 0.95 at 1M rows (ef 100 gave 0.65,
ef 2000 gives 0.99), and re-ranking twice k candidates with full-precision vectors makes up
for the 8-bit codes (0.94 without). PQ codes lost too much for this recall. IVF_FLAT does well
at 1M rows and builds far faster, but at 100k a contact filter needs nearly all partitions
probed, a full scan over the 20 ms p99 target (figures in `benchmarks/results/`).
The benchmark imports these values, so what it measures is what the memory layer does.
"""

from typing import Any, Literal

DISTANCE: Literal["l2", "cosine", "dot"] = "cosine"
INDEX_MIN_ROWS = 10_000
# Searches: how many IVF partitions to visit, the HNSW candidate list, and how many times k
# candidates to re-rank with full-precision vectors.
NPROBES = 20
EF = 2000
REFINE_FACTOR = 2


def index_config() -> Any:
    from lancedb.index import IvfHnswSq

    return IvfHnswSq(distance_type=DISTANCE)


def tune(search: Any) -> Any:
    """Apply the search-time settings to a LanceDB vector (or hybrid) query."""
    return search.nprobes(NPROBES).ef(EF).refine_factor(REFINE_FACTOR)
