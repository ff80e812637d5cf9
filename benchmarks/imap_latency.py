"""Latency of IMAP intake: from a message appended on the server to its registered work item.

Run on purpose, never in CI. A real Dovecot on 127.0.0.1 (tests/imap_server.py; the
project's setup installs it) and a fresh home; N messages are appended one at a time at
random gaps, and each one's latency is its item's `created_at` minus the moment its APPEND
returned. Modes:

- `daemon`: the real path, polling — `dagster-daemon run` evaluates the inbox sensor (at
  most every 5 s), whose tick reads the account. The kill switch is on, so the batches'
  runs are not launched: registration goes on under it, and the runs would only add load.
- `idle`: the IMAP IDLE watcher (`python -m sensors.imap_idle`) as a child process, no
  daemon: the server's word wakes it. With the daemon beside it the latency is the same
  (whichever reads first registers; the other finds the account locked or nothing new).
- `tick`: `imap_tick` called in-process every 5 s, the sensor's interval without the
  daemon's own scheduling: the floor of the polling path.

    python benchmarks/imap_latency.py --mode daemon|idle|tick [--messages 30] [--gap 0.5 3]

Results go to benchmarks/results/imap_latency_<mode>.json (p50, p95, max, each latency).
"""

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

PASSWORD_ENV = "OPSBENCH_BENCH_IMAP_PASSWORD"  # noqa: S105 (a variable name)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def write_config(path: Path, port: int) -> Path:
    import yaml

    from resources.settings.config import SAMPLE_CONFIG

    config = yaml.safe_load(SAMPLE_CONFIG.read_text())
    config["intake"]["imap"] = [
        {
            "name": "bench",
            "host": "127.0.0.1",
            "port": port,
            "tls": "none",
            "user": "owner",
            "password_env": PASSWORD_ENV,
        }
    ]
    path.write_text(yaml.safe_dump(config))
    return path


def start_reader(mode: str, root: Path, home, config: Path, env: dict[str, str]):  # type: ignore[no-untyped-def]
    """What reads the mailbox in this mode; a function that stops it."""
    from opsbench.workbench import dagster_commands, dagster_env, start_child, stop_children

    if mode == "daemon":
        env = {**dagster_env(home), **env}
        child = start_child(dagster_commands(0)["daemon"], root / "daemon.log", env)
        return lambda: stop_children([child])
    if mode == "idle":
        command = [sys.executable, "-m", "sensors.imap_idle", "--config", str(config)]
        child = start_child(command, root / "idle.log", {**os.environ, **env})
        return lambda: stop_children([child])
    from resources.settings.config import load_config
    from resources.store.resource import store_for
    from sensors.imap_intake import imap_tick

    stop = threading.Event()
    loaded = load_config(config)

    def loop() -> None:
        while not stop.is_set():
            imap_tick(store_for(home.store_url), home, loaded)
            stop.wait(5.0)

    threading.Thread(target=loop, daemon=True).start()
    return stop.set


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("daemon", "idle", "tick"), default="daemon")
    parser.add_argument("--messages", type=int, default=30)
    parser.add_argument("--gap", type=float, nargs=2, default=(0.5, 3.0))
    parser.add_argument("--warmup-timeout", type=float, default=180.0)
    args = parser.parse_args()

    from imap_server import PASSWORD, Dovecot, message

    from resources.settings.home import open_home
    from resources.store.resource import store_for

    root = Path(tempfile.mkdtemp(prefix="imap-latency-"))
    home = open_home(root / "home")
    env = {
        PASSWORD_ENV: PASSWORD,
        "OPSBENCH_HOME": str(home.root),
        "OPSBENCH_LLM": "scripted",
        "OPSBENCH_EMBEDDER": "hashing",
    }
    os.environ.update(env)
    store = store_for(home.store_url)
    store.set_control("kill_switch", "on", actor="benchmark")  # register, launch no runs
    with Dovecot(root / "imap") as server:
        config = write_config(root / "config.yaml", server.port)
        env["OPSBENCH_CONFIG"] = os.environ["OPSBENCH_CONFIG"] = str(config)
        stop = start_reader(args.mode, root, home, config, env)
        try:
            # Warm up: the first message waits for the reader to start (the daemon loads the
            # code location first); it is not counted.
            server.append(message(0))
            deadline = time.monotonic() + args.warmup_timeout
            while not store.items():
                if time.monotonic() > deadline:
                    raise SystemExit(f"nothing registered in {args.warmup_timeout:.0f} s")
                time.sleep(0.05)
            latencies = []
            for n in range(1, args.messages + 1):
                time.sleep(random.uniform(*args.gap))
                server.append(message(n))
                appended = time.time()
                wanted = f"<q{n}@client.example>"
                while True:
                    found = [i for i in store.items() if i["message_id"] == wanted]
                    if found:
                        break
                    time.sleep(0.02)
                created = dt.datetime.fromisoformat(found[0]["created_at"]).timestamp()
                latencies.append(max(0.0, created - appended))
                print(f"{n:3d}: {latencies[-1]:6.2f} s", flush=True)
        finally:
            stop()
    result = {
        "mode": args.mode,
        "messages": args.messages,
        "gap_s": list(args.gap),
        "p50_s": round(statistics.median(latencies), 3),
        "p95_s": round(percentile(latencies, 0.95), 3),
        "max_s": round(max(latencies), 3),
        "latencies_s": [round(v, 3) for v in latencies],
    }
    out = REPO / "benchmarks" / "results" / f"imap_latency_{args.mode}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "latencies_s"}))


if __name__ == "__main__":
    main()
