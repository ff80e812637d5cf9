"""Throughput of the agent chain beside a plain asyncio loop, against one stub with fixed latency.

Run on purpose (`make benchmark`), never in CI. One stub OpenAI-compatible server on 127.0.0.1
answers after L seconds, in this process. For each concurrency C two child processes run
against it, one after the other, so each one's CPU and peak RSS are its own:

- the baseline (benchmarks/baseline.py): plain asyncio and the `openai` client making the same
  three calls per item (triage, draft, review);
- the pipeline: a fresh home with N support mails, run headless through a Dagster instance.

It reports items/s for both and their ratio, CPU per item for both and the pipeline's beyond
the baseline's (orchestration), and each one's peak RSS. Results go to
benchmarks/results/throughput_<label>.json.

    python benchmarks/throughput.py [--items 250] [--latency 0.2] [--concurrency 32 128]
        [--profile 32]   # also write a cProfile of the pipeline run at C=32
"""

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CALLS_PER_ITEM = 3
RESULTS = REPO / "benchmarks" / "results"


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


def _usage() -> dict[str, float]:
    """This process's CPU (its children's too) and peak RSS, from the kernel's accounting."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return {
        "cpu_s": own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime,
        "peak_rss_mb": round(max(own.ru_maxrss, children.ru_maxrss) / 1024, 1),
    }


def child_pipeline(url: str, items: int, concurrency: int, max_items: int) -> dict[str, Any]:
    from opsbench.headless import HeadlessRunner
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
            "OPSBENCH_LLM": url,
        }
    )
    write_items(home.inbox, items)
    store = store_for(home.store_url)
    # Imports and the first Dagster load are start-up, not per-item work.
    runner = HeadlessRunner(home, store, log=lambda _m: None)
    cpu0, wall0 = _usage()["cpu_s"], time.perf_counter()
    outcome = runner.run_until_rested(timeout_s=3600)
    wall, cpu = time.perf_counter() - wall0, _usage()["cpu_s"] - cpu0
    assert outcome.rested, "the benchmark did not finish"
    delivered = store.state_counts().get("delivered", 0)
    store.close()
    return {"wall_s": wall, "cpu_s": cpu, "done": delivered, "runs": outcome.runs}


def child_baseline(url: str, items: int, concurrency: int) -> dict[str, Any]:
    import openai  # noqa: F401  (imported before the clock starts, as the pipeline's is)

    from benchmarks.baseline import run

    cpu0, wall0 = _usage()["cpu_s"], time.perf_counter()
    done = asyncio.run(run(url, items, concurrency))
    wall, cpu = time.perf_counter() - wall0, _usage()["cpu_s"] - cpu0
    return {"wall_s": wall, "cpu_s": cpu, "done": done}


def _in_child(kind: str, url: str, args: argparse.Namespace, c: int, profile: Path | None) -> dict:
    command = [sys.executable, __file__, "--child", kind, "--url", url]
    command += ["--items", str(args.items), "--concurrency", str(c), "--batch", str(args.batch)]
    if profile is not None:
        command += ["--profile-to", str(profile)]
    out = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True, cwd=REPO).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def side_by_side(args: argparse.Namespace) -> list[dict[str, Any]]:
    from resources.llm.stub_server import StubServer

    rows = []
    with StubServer(latency_s=args.latency) as server:
        for c in args.concurrency:
            profile = RESULTS / f"throughput_profile_c{c}.pstats" if c in args.profile else None
            base = _in_child("baseline", server.url, args, c, None)
            pipe = _in_child("pipeline", server.url, args, c, profile)
            n = args.items
            base_cpu, pipe_cpu = base["cpu_s"] * 1000 / n, pipe["cpu_s"] * 1000 / n
            rows.append(
                {
                    "concurrency": c,
                    "items": n,
                    "latency_s": args.latency,
                    "batch_max_items": args.batch,
                    "ideal_items_per_s": round(c / (CALLS_PER_ITEM * args.latency), 2),
                    "baseline_items_per_s": round(n / base["wall_s"], 2),
                    "pipeline_items_per_s": round(n / pipe["wall_s"], 2),
                    "ratio": round(base["wall_s"] / pipe["wall_s"], 3),
                    "baseline_cpu_ms_per_item": round(base_cpu, 2),
                    "pipeline_cpu_ms_per_item": round(pipe_cpu, 2),
                    "orchestration_cpu_ms_per_item": round(pipe_cpu - base_cpu, 2),
                    "baseline_peak_rss_mb": base["peak_rss_mb"],
                    "pipeline_peak_rss_mb": pipe["peak_rss_mb"],
                    "baseline_passed": base["done"],
                    "pipeline_delivered": pipe["done"],
                    "pipeline_runs": pipe["runs"],
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=250)
    parser.add_argument("--latency", type=float, default=0.2, help="stub latency L, seconds")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--batch", type=int, default=100, help="batching.max_items")
    parser.add_argument("--profile", type=int, nargs="*", default=[], help="profile at these C")
    parser.add_argument("--label", default="", help="results file: throughput_<label>.json")
    parser.add_argument("--child", choices=["baseline", "pipeline"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args)))
        return
    rows = side_by_side(args)
    label = args.label or f"n{args.items}"
    RESULTS.mkdir(parents=True, exist_ok=True)
    record = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rows": rows}
    (RESULTS / f"throughput_{label}.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))
    print(
        "\n| C | N | plain loop items/s | Opsbench items/s | ratio | Opsbench CPU ms/item "
        "| beyond the client | RSS MB (loop / Opsbench) |\n|---|---|---|---|---|---|---|---|"
    )
    for r in rows:
        print(
            f"| {r['concurrency']} | {r['items']} | {r['baseline_items_per_s']} | "
            f"{r['pipeline_items_per_s']} | {r['ratio']} | {r['pipeline_cpu_ms_per_item']} | "
            f"{r['orchestration_cpu_ms_per_item']} | "
            f"{r['baseline_peak_rss_mb']} / {r['pipeline_peak_rss_mb']} |"
        )


def _child(args: argparse.Namespace) -> dict[str, Any]:
    if args.child == "baseline":
        outcome = child_baseline(args.url, args.items, args.concurrency[0])
    elif args.profile_to is None:
        outcome = child_pipeline(args.url, args.items, args.concurrency[0], args.batch)
    else:
        import cProfile

        with cProfile.Profile() as profiler:
            outcome = child_pipeline(args.url, args.items, args.concurrency[0], args.batch)
        profiler.dump_stats(args.profile_to)
    return {**outcome, "peak_rss_mb": _usage()["peak_rss_mb"]}


if __name__ == "__main__":
    main()
