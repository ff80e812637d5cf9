"""Running the pipeline: `demo` (headless, over a folder of mail, until every item rests) and
`run` (the live workbench)."""

import os
import shutil
import signal
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from opsbench.cli import ui
from opsbench.cli.core import (
    EXIT_CONFIG,
    EXIT_FAIL,
    EXIT_HELD,
    EXIT_OK,
    EXIT_TIMEOUT,
    Config,
    Home,
    Json,
    Llm,
    app,
    err,
    out,
    setup,
)
from opsbench.cli.model import local_server_if_needed
from opsbench.cli.verbs.status import deferred_lines
from resources.settings.config import CATEGORIES, load_config
from resources.settings.environment import environment

PANEL = "Run"


@app.command(rich_help_panel=PANEL)
def demo(
    inbox: Annotated[str, typer.Option("--inbox", help="folder whose files are copied in")],
    llm: Llm = None,
    record: Annotated[
        str | None, typer.Option("--record", help="append every model response to this file")
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="seconds (exit 3 after)")] = 600.0,
    home: Home = None,
    config: Config = None,
    json: Json = False,
) -> int:
    """Copy a folder of mail into the inbox and run the pipeline headless until it rests."""
    started = time.monotonic()
    source = Path(inbox)
    if not source.is_dir():
        err(f"--inbox {source} is not a folder")
        return EXIT_CONFIG
    opened, store = setup(home, config, create=True, starts_work=True, llm=llm, record=record)
    from resources.store import now_iso

    try:
        server = local_server_if_needed(opened, as_json=json)
    except Exception as exc:  # weights or server: a clear message, no traceback
        err(f"--llm local: {exc}")
        return EXIT_FAIL
    try:
        from resources.llm.endpoints import EndpointError, require_price, resolve

        try:
            loaded = load_config(config)
            endpoint = resolve(
                environment().llm or "local", home=opened.root, model=loaded.llm.model
            )
            require_price(endpoint, loaded.llm.prices)
        except (EndpointError, FileNotFoundError, ValueError) as exc:
            err(f"--llm: {exc}")
            return EXIT_CONFIG
        err(
            f"model: {endpoint.model} at {endpoint.spec}"
            + ("" if endpoint.live else " (a test double, no live calls)")
        )
        since = now_iso()
        copied = copy_inbox(source, opened.inbox)
        err(f"home {opened.root}: {copied} files copied into the inbox")
        from opsbench.headless import HeadlessRunner

        with ui.counting("items rested", _rested_counter(opened), as_json=json):
            outcome = HeadlessRunner(opened, store).run_until_rested(timeout_s=timeout)
    finally:
        if server is not None and server.started:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the stop finish
            server.stop()
    summary = _summary(opened, store, since=since, elapsed=time.monotonic() - started)
    summary["live_calls"] = summary["model_calls"] if endpoint.live else 0
    summary["kill_switch"] = "on" if outcome.kill_switch else "off"
    out(summary if json else _summary_text(summary), json)
    if outcome.kill_switch:
        held = summary["deferred"].get("kill_switch", {}).get("count", 0)
        err(f"kill switch is on: {held} items held (deferred / kill_switch) until opsbench resume")
        return EXIT_HELD
    if not outcome.rested:
        err(f"timeout after {timeout}s: some items are still in flight")
        return EXIT_TIMEOUT
    return EXIT_OK


def _rested_counter(home: Any) -> Any:
    """(items resting, items) from a store of the progress thread's own."""
    from resources.store import RESTING
    from resources.store.resource import store_for

    own: list[Any] = []

    def poll() -> tuple[int, int]:
        if not own:
            own.append(store_for(home.store_url))
        counts = own[0].state_counts()
        return sum(counts.get(s, 0) for s in RESTING), sum(counts.values())

    return poll


def copy_inbox(source: Path, inbox: Path) -> int:
    """Copy (never move) files in, each through a hidden temp name so no half file is claimed."""
    count = 0
    for path in sorted(source.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        target = inbox / path.name
        if target.exists():
            target = inbox / f"{path.stem}-{time.time_ns()}{path.suffix}"
        temp = inbox / f".copying-{time.time_ns()}"
        shutil.copy2(path, temp)  # keeps the mtime: a finished old file is claimable at once
        os.replace(temp, target)
        count += 1
    return count


def _summary(home: Any, store: Any, *, since: str, elapsed: float) -> dict[str, Any]:
    from opsbench.status import deferred_report

    items = store.items()
    categories = dict.fromkeys(CATEGORIES, 0)
    for item in items:
        if item["category"] in categories:
            categories[item["category"]] += 1
    totals = store.call_totals(since=since)
    return {
        "home": str(home.root),
        "items": len(items),
        "states": store.state_counts(),
        "categories": categories,
        "model_calls": totals["model_calls"],
        "cache_hits": totals["cache_hits"],
        "tokens_in": totals["tokens_in"],
        "tokens_out": totals["tokens_out"],
        "cost_usd": round(totals["cost_usd"], 8),
        "elapsed_s": round(elapsed, 3),
        "deferred": deferred_report(store, load_config())["deferred_groups"],
    }


def _summary_text(summary: dict[str, Any]) -> str:
    states = ", ".join(f"{k} {v}" for k, v in summary["states"].items() if v)
    return (
        f"{summary['items']} items in {summary['home']}\n"
        f"  states: {states or 'none'}\n"
        f"  model calls {summary['model_calls']} (cache hits {summary['cache_hits']}), "
        f"tokens {summary['tokens_in']}/{summary['tokens_out']}, "
        f"cost ${summary['cost_usd']:.6f}, {summary['elapsed_s']}s"
    ) + "".join(f"\n  {line}" for line in deferred_lines(summary["deferred"]))


@app.command(rich_help_panel=PANEL)
def run(
    port: Annotated[int, typer.Option("--port", help="UI port on 127.0.0.1")] = 3000,
    llm: Llm = None,
    no_samples: Annotated[
        bool, typer.Option("--no-samples", help="do not copy the sample inbox into a new home")
    ] = False,
    home: Home = None,
    config: Config = None,
) -> int:
    """The live workbench: model server, Dagster daemon and UI (what `make run` calls)."""
    opened, _ = setup(home, config, create=True, starts_work=True, llm=llm)
    from opsbench.workbench import run_workbench
    from resources.llm.local_server import LocalServerError
    from resources.llm.weights import WeightsError

    try:
        return run_workbench(
            opened, port=port, llm=environment().llm or "local", seed=not no_samples
        )
    except (LocalServerError, WeightsError) as exc:
        err(f"--llm local: {exc}")
        return EXIT_FAIL
