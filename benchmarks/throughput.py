"""Throughput of the agent chain against an OpenAI-compatible stub with fixed latency.

Run on purpose (`make benchmark`), never in CI. For each concurrency C it builds a fresh home,
writes N support mails (three model calls each: triage, draft, review), and runs the headless
pipeline through a Dagster instance against a stub server on 127.0.0.1 that answers after L seconds.
It reports items/s beside the ideal C / (calls per item x L), orchestration CPU per item and
peak RSS. The runs happen side by side in one process, so the ratios hold on a noisy machine.

    python benchmarks/throughput.py [--items 1000] [--latency 0.05] [--concurrency 1 4 16]
"""

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CALLS_PER_ITEM = 3


def write_items(inbox: Path, count: int) -> None:
    inbox.mkdir(parents=True, exist_ok=True)
    old = time.time() - 60
    for n in range(count):
        path = inbox / f"item{n:05d}.json"
        path.write_text(
            json.dumps(
                {
                    "from": f"client{n}@customer{n % 50}.example",
                    "subject": f"Cannot log in to the dashboard ({n})",
                    "body": f"Hello, I cannot log in since this morning, error {n}. Please help.",
                    "message_id": f"<bench-{n}@customer.example>",
                }
            )
        )
        os.utime(path, (old, old))


def config_for(folder: Path, concurrency: int, max_items: int) -> Path:
    text = (REPO / "resources" / "settings" / "sample_config.yaml").read_text()
    text = text.replace("max_items: 25", f"max_items: {max_items}")
    text = text.replace("model_calls: null ", f"model_calls: {concurrency} ")
    text = text.replace("max_files_per_tick: 200", "max_files_per_tick: 5000")
    path = folder / "bench.yaml"
    path.write_text(text)
    return path


def permissive_policy(folder: Path) -> Path:
    path = folder / "policy.yaml"
    path.write_text("actions: {send_reply: {default: auto}}\nbudgets: {daily_usd: 1000}\n")
    return path


def run_one(items: int, latency: float, concurrency: int, max_items: int) -> dict[str, float]:
    from opsbench.headless import HeadlessRunner
    from resources.llm.stub_server import StubServer
    from resources.settings.home import open_home
    from resources.store.resource import store_for

    folder = Path(tempfile.mkdtemp(prefix="opsbench-bench-"))
    home = open_home(folder / "home")
    os.environ.update(
        {
            "OPSBENCH_HOME": str(home.root),
            "DAGSTER_HOME": str(home.dagster),
            "OPSBENCH_CONFIG": str(config_for(folder, concurrency, max_items)),
            # Every reply goes out: the benchmark measures the chain, not the approval queue.
            "OPSBENCH_POLICY": str(permissive_policy(folder)),
            "OPSBENCH_MODEL": "stub",
        }
    )
    write_items(home.inbox, items)
    with StubServer(latency_s=latency) as server:
        os.environ["OPSBENCH_LLM"] = server.url
        store = store_for(home.store_url)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        outcome = HeadlessRunner(home, store, log=lambda _m: None).run_until_rested(timeout_s=3600)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        requests = server.requests
    assert outcome.rested, "the benchmark did not finish"
    delivered = store.state_counts()["delivered"]
    ideal = concurrency / (CALLS_PER_ITEM * latency)
    # CPU spent while waiting on the stub is ours too (the stub's threads are cheap); the
    # server-side work per request is a dict lookup, so this is mostly orchestration.
    return {
        "concurrency": concurrency,
        "items": items,
        "delivered": delivered,
        "requests": requests,
        "wall_s": round(wall, 2),
        "items_per_s": round(items / wall, 2),
        "ideal_items_per_s": round(ideal, 2),
        "ratio_to_ideal": round(items / wall / ideal, 3),
        "cpu_ms_per_item": round(cpu * 1000 / items, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05, help="stub latency L, seconds")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--batch", type=int, default=100, help="batching.max_items")
    args = parser.parse_args()
    rows = [run_one(args.items, args.latency, c, args.batch) for c in args.concurrency]
    print(json.dumps(rows, indent=2))
    print(
        "\n| C | items/s | ideal C/(3L) | ratio | CPU ms/item | peak RSS MB |\n"
        "|---|---|---|---|---|---|"
    )
    for r in rows:
        print(
            f"| {r['concurrency']} | {r['items_per_s']} | {r['ideal_items_per_s']} | "
            f"{r['ratio_to_ideal']} | {r['cpu_ms_per_item']} | {r['peak_rss_mb']} |"
        )


if __name__ == "__main__":
    main()
