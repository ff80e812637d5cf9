"""`opsbench`: the operator's daily verbs. stdout carries only the result; progress goes to
stderr. Exit codes: 0 ok, 1 failure, 2 configuration error, 3 timeout, 4 (`demo`) held by the kill
switch."""

import argparse
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from resources.settings.config import CATEGORIES, ConfigError, load_config
from resources.settings.environment import environment

EXIT_OK, EXIT_FAIL, EXIT_CONFIG, EXIT_TIMEOUT, EXIT_HELD = 0, 1, 2, 3, 4


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _out(value: Any, as_json: bool) -> None:
    print(
        json.dumps(value, indent=None if as_json else 2, default=str)
        if as_json or not isinstance(value, str)
        else value
    )


class NoHome(Exception):
    """A verb that reads a home was pointed at a folder that is not one."""


def _setup(args: argparse.Namespace, *, create: bool = False) -> Any:
    """Export the choices to the environment the Dagster code reads, then open home and store.
    Only `demo` and `run` create a home: a mistyped --home is an error, not an empty report."""
    from resources.settings.home import home_path, open_home

    if not create and not (home_path(args.home) / "store.sqlite").exists():
        raise NoHome(f"no Opsbench home at {home_path(args.home)} (see --home / OPSBENCH_HOME)")
    home = open_home(args.home)
    os.environ["OPSBENCH_HOME"] = str(home.root)
    os.environ["DAGSTER_HOME"] = str(home.dagster)
    if getattr(args, "config", None):
        os.environ["OPSBENCH_CONFIG"] = str(Path(args.config).resolve())
    if getattr(args, "llm", None):
        os.environ["OPSBENCH_LLM"] = args.llm
    if getattr(args, "record", None):
        os.environ["OPSBENCH_RECORD"] = str(Path(args.record).resolve())
    config = load_config(getattr(args, "config", None))  # fail early with a clear message
    if hasattr(args, "llm"):  # the verbs that start work (those with --llm)
        _require_prices(config)
    from resources.store.resource import store_for

    return home, store_for(home.store_url)


def _require_prices(config: Any) -> None:
    """Every model this work could pay for has a price, or nothing starts (exit 2)."""
    from resources.llm.endpoints import EndpointError
    from resources.llm.pricing import require_prices_for
    from resources.settings.policy import load_policy

    spec = environment().llm or "local"
    try:
        require_prices_for(spec, config, load_policy(config.policy_file).budgets)
    except EndpointError as exc:
        raise ConfigError(str(exc)) from exc


# ------------------------------------------------------------------ demo
def cmd_demo(args: argparse.Namespace) -> int:
    started = time.monotonic()
    inbox = Path(args.inbox)
    if not inbox.is_dir():
        _err(f"--inbox {inbox} is not a folder")
        return EXIT_CONFIG
    home, store = _setup(args, create=True)
    from resources.store import now_iso

    try:
        server = _local_server_if_needed(home)
    except Exception as exc:  # weights or server: a clear message, never a traceback
        _err(f"--llm local: {exc}")
        return EXIT_FAIL
    try:
        from resources.llm.endpoints import EndpointError, require_price, resolve

        try:
            config = load_config(args.config)
            endpoint = resolve(environment().llm or "local", home=home.root, model=config.llm.model)
            require_price(endpoint, config.llm.prices)
        except (EndpointError, FileNotFoundError, ValueError) as exc:
            _err(f"--llm: {exc}")
            return EXIT_CONFIG
        _err(
            f"model: {endpoint.model} at {endpoint.spec}"
            + ("" if endpoint.live else " (a test double, no live calls)")
        )
        since = now_iso()
        copied = _copy_inbox(inbox, home.inbox)
        _err(f"home {home.root}: {copied} files copied into the inbox")
        from opsbench.headless import HeadlessRunner

        outcome = HeadlessRunner(home, store).run_until_rested(timeout_s=args.timeout)
    finally:
        if server is not None and server.started:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the stop finish
            server.stop()
    summary = _summary(home, store, since=since, elapsed=time.monotonic() - started)
    summary["live_calls"] = summary["model_calls"] if endpoint.live else 0
    summary["kill_switch"] = "on" if outcome.kill_switch else "off"
    if args.json:
        _out(summary, True)
    else:
        _out(_summary_text(summary), False)
    if outcome.kill_switch:
        held = summary["deferred"].get("kill_switch", {}).get("count", 0)
        _err(f"kill switch is on: {held} items held (deferred / kill_switch) until opsbench resume")
        return EXIT_HELD
    if not outcome.rested:
        _err(f"timeout after {args.timeout}s: some items are still in flight")
        return EXIT_TIMEOUT
    return EXIT_OK


def _local_server_if_needed(home: Any) -> Any:
    """`--llm local`: prepare the weights and start this home's server unless one runs."""
    if (environment().llm or "local") != "local":
        return None
    from resources.llm.local_server import ensure_server
    from resources.llm.weights import prepare

    return ensure_server(home, prepare())


def _copy_inbox(source: Path, inbox: Path) -> int:
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
    ) + "".join(f"\n  {line}" for line in _deferred_lines(summary["deferred"]))


def _deferred_lines(groups: dict[str, Any]) -> list[str]:
    lines = []
    for reason, group in groups.items():
        when = f"until {group['waits_for']}"
        if group["next_try"]:
            when = f"next try {group['next_try']} (waits for {group['waits_for']})"
        lines.append(f"deferred {reason}: {group['count']}, {when}")
    return lines


# ------------------------------------------------------------------ items, show, retry, status
def item_record(store: Any, item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": item["id"],
        "source": item["source"],
        "batch": item["batch"],
        "sender": item["sender"],
        "subject": item["subject"],
        "category": item["category"],
        "state": item["state"],
        "reason_code": item["reason_code"],
        "reason": item["reason"],
        "duplicate_of": item["duplicate_of"],
        "deliveries": [d["id"] for d in store.deliveries_for(item["id"])],
    }


def cmd_items(args: argparse.Namespace) -> int:
    _, store = _setup(args)
    records = [item_record(store, i) for i in store.items()]
    if args.json:
        _out(records, True)
    else:
        for r in records:
            print(
                f"{r['id']}  {r['state']:<17} {r['category'] or '-':<8} "
                f"{r['reason_code'] or '':<22} {r['source']}"
            )
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    _, store = _setup(args)
    item = store.get_item(args.item)
    if item is None:
        _err(f"no item {args.item}")
        return EXIT_FAIL
    original = Path(item["original_path"] or "")
    story = {
        "item": item_record(store, item),
        "original": original.read_text(errors="replace") if original.is_file() else None,
        "outputs": {
            o["asset"]: {
                k: o[k]
                for k in (
                    "output",
                    "valid",
                    "failure",
                    "prompt_version",
                    "model",
                    "cached",
                    "cost_usd",
                    "run_id",
                )
            }
            for o in store.outputs_for(item["id"])
        },
        "deliveries": store.deliveries_for(item["id"]),
        "audit": store.audit_for(item["id"]),
    }
    _out(story, args.json)
    return EXIT_OK


def cmd_retry(args: argparse.Namespace) -> int:
    _, store = _setup(args)
    from opsbench.retry import RetryError, retry_item

    try:
        batch = retry_item(store, args.item)
    except RetryError as exc:
        _err(str(exc))
        return EXIT_FAIL
    _out({"item": args.item, "state": "received", "batch": batch}, True)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    home, store = _setup(args)
    from opsbench.status import status

    report = status(home, store)
    if args.json:
        _out(report, True)
    else:
        _out(_status_text(report), False)
    return EXIT_OK


def _status_text(report: dict[str, Any]) -> str:
    states = ", ".join(f"{k} {v}" for k, v in report["states"].items() if v) or "none"
    budgets = ", ".join(
        f"{k} {v['used_usd']:.4f}/{v['limit_usd']:.2f}" for k, v in report["budgets"].items()
    )
    lines = [
        f"home {report['home']}",
        f"  states: {states}",
        f"  kill switch: {report['kill_switch']}",
        f"  budgets today (USD): {budgets}",
        f"  sensors: {', '.join(f'{k} {v}' for k, v in report['sensors'].items())}",
    ]
    lines += [f"  {line}" for line in _deferred_lines(report["deferred_groups"])]
    lines += [
        f"  deferred {d['id']}: {d['reason_code']}"
        + (f", attempt {d['attempt']}, next try {d['next_try']}" if d["next_try"] else "")
        for d in report["deferred"]
    ]
    lines += [
        f"  recent failure {f['id']}: {f['state']} {f['reason_code']}"
        for f in report["last_failures"]
    ]
    memory = report["memory"]
    lines.append(
        f"  memory: {memory['episodic_rows']} episodes, {memory['facts']} facts, "
        f"{memory['contested_facts']} contested (opsbench memory conflicts), "
        f"{memory['unconsolidated_rows']} rows for the archivist"
    )
    lines.append(f"  alerts: {report['alerts']['count']} (see <home>/alerts/alerts.jsonl)")
    lines += [
        f"  alert {a['at']} {a['kind']} {a.get('check') or a.get('job')} run {a['run_id'][:8]}"
        for a in report["alerts"]["last"]
    ]
    return "\n".join(lines)


def cmd_audit(args: argparse.Namespace) -> int:
    home, store = _setup(args)
    from opsbench.audit import item_story

    story = item_story(home, store, args.item)
    if story is None:
        _err(f"no item {args.item}")
        return EXIT_FAIL
    if args.json:
        _out(story, True)
        return EXIT_OK
    item = story["item"]
    lines = [
        f"{item['id']}  {item['source']}  {item['state']} {item['reason_code'] or ''}",
        f"  from {item['sender']}: {item['subject']}",
    ]
    lines += [
        f"  call {c['asset']:<12} {c['model']} {c['prompt_version']} "
        f"{c['tokens_in']}/{c['tokens_out']} tok ${c['cost_usd']:.6f}"
        f"{' (cached)' if c['cached'] else ''}"
        for c in story["model_calls"]
    ]
    lines += [
        f"  check {c['asset']}: {'ok' if c['valid'] else c['failure']}" for c in story["checks"]
    ]
    lines += [
        f"  failure {f['agent']}: {f['kind']} {f['reason']} ({f['prompt_version']})"
        for f in story["failures"]
    ]
    lines += [
        f"  {a['at']} {a['actor']}: {a['decision']} ({a['policy']})" for a in story["approvals"]
    ]
    lines += [
        f"  delivery {d['id']}: {d['state']} {d['receipt'] or ''}" for d in story["deliveries"]
    ]
    lines += [f"  {e['at']} {e['actor']}: {e['event']} {e['detail'] or ''}" for e in story["audit"]]
    _out("\n".join(lines), False)
    return EXIT_OK


def cmd_prompts_test(args: argparse.Namespace) -> int:
    home, store = _setup(args)
    from ops_assets.quality import regression
    from resources.llm.resource import LLMResource
    from resources.settings import SettingsResource

    try:
        candidate = regression.load_candidate(
            args.agent, Path(args.prompt) if args.prompt else None
        )
    except regression.RegressionError as exc:
        _err(str(exc))
        return EXIT_CONFIG
    server = _local_server_if_needed(home)
    try:
        llm = LLMResource(settings=SettingsResource())
        client = llm.client(store, run_id=None, asset=args.agent)
        from resources.memory import Memory

        memory = Memory(home.memory)  # recorded contexts are read, never searched again
        report = regression.run(
            args.agent, candidate, store, load_config(args.config), client, memory
        )
    finally:
        if server is not None and server.started:
            server.stop()
    _out(report.as_dict() if args.json else report.text(), args.json)
    if report.not_run:
        _err(f"{len(report.not_run)} case(s) got no answer and were not compared")
    return EXIT_FAIL if report.regressions or report.not_run else EXIT_OK


def cmd_cost(args: argparse.Namespace) -> int:
    _, store = _setup(args)
    from ops_assets.observability.costs import cost_report

    report = cost_report(store)
    if args.json:
        _out(report, True)
        return EXIT_OK
    per = report["cost_per_outcome_usd"]
    lines = [
        f"{report['model_calls']} paid calls, {report['cache_hits']} cache hits, "
        f"{report['tokens_in']}/{report['tokens_out']} tokens, ${report['cost_usd']:.6f} "
        f"(saved ${report['saved_usd']:.6f} by the call ledger)",
        f"{len(report['outcomes'])} delivered outcomes"
        + (f", ${per:.6f} each on average" if per is not None else ""),
        f"unattributed: {report['unattributed']['model_calls']} calls, "
        f"${report['unattributed']['cost_usd']:.6f}",
    ]
    for name, row in report["by_workflow"].items():
        lines.append(f"  {name:<14} {row['model_calls']:>5} calls  ${row['cost_usd']:.6f}")
    _out("\n".join(lines), False)
    return EXIT_OK


def cmd_reprocess(args: argparse.Namespace) -> int:
    home, store = _setup(args)
    from opsbench import reprocess

    try:
        job = reprocess.plan(store, args.agent, batches=args.batch or [], since=args.since)
        _err(f"{job.reprocess_id}: {job.agent} over {len(job.batches)} batch(es)")
        if args.ui:
            reprocess.run_backfill(job, args.ui, home, timeout_s=args.timeout)
        else:
            server = _local_server_if_needed(home)
            try:
                reprocess.run_in_process(job, home)
            finally:
                if server is not None and server.started:
                    server.stop()
    except reprocess.ReprocessError as exc:
        _err(str(exc))
        return EXIT_FAIL
    summary = reprocess.summarize(job, store, home)
    if args.json:
        _out(summary, True)
    else:
        lines = [
            f"{summary['reprocess_id']} {summary['status']}: {summary['outputs']} outputs, "
            f"{summary['changed']} changed, {summary['category_flips']} category flips, "
            f"{summary['proposed_corrections']} proposed corrections; "
            f"{summary['model_calls']} model calls, {summary['cache_hits']} from the ledger",
        ]
        lines += [
            f"  {d['item_id']} {d['asset']}: {d['changed_fields']}"
            + (f" ({d['category_before']} -> {d['category_after']})" if d["category_flip"] else "")
            for d in summary["diff"]
        ]
        lines.append(f"diff: {summary['diff_file']}")
        _out("\n".join(lines), False)
    return EXIT_OK if summary["status"] in ("COMPLETED", "COMPLETED_SUCCESS") else EXIT_FAIL


def cmd_crm(args: argparse.Namespace) -> int:
    _, store = _setup(args)
    report = {"contacts": store.contacts(), "deals": store.deals()}
    if args.json:
        _out(report, True)
        return EXIT_OK
    lines = [
        f"{c['email']:<40} {c['name'] or '':<22} {c['company'] or '':<20} "
        f"{c['messages']} in / {c['replies_sent']} out, last {c['last_category']}"
        for c in report["contacts"]
    ]
    lines += [
        f"deal {d['id']} {d['stage']:<10} {d['contact_email']} {d['amount'] or ''} {d['title']}"
        for d in report["deals"]
    ]
    _out("\n".join(lines) or "no contacts yet", False)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    home, store = _setup(args)
    from opsbench.privacy import export

    _out(export(home, store, args.contact), True)
    return EXIT_OK


def cmd_erase(args: argparse.Namespace) -> int:
    home, store = _setup(args)
    from opsbench.privacy import erase

    report = erase(home, store, args.contact)
    _out(
        report
        if args.json
        else (
            f"erased {report['items']} item(s), {report['memory_rows']} memory row(s), "
            f"{report['files']} file(s); store rows: {report['store_rows']}"
        ),
        args.json,
    )
    if report["still_found"]:
        _err(f"still found in: {', '.join(report['still_found'])}")
        return EXIT_FAIL
    return EXIT_OK


def cmd_memory(args: argparse.Namespace) -> int:
    home, store = _setup(args)
    from opsbench import memory_review as review
    from resources.memory import EmbeddingError

    memory = review.reader(home, load_config(args.config))
    try:
        if args.memory_command == "search":
            found: Any = review.search(
                memory, args.query, contact=args.contact, table=args.table, limit=args.limit
            )
        elif args.memory_command == "facts":
            found = review.facts(memory, args.contact)
        elif args.memory_command == "conflicts":
            found = review.conflicts(memory)
        else:
            found = review.resolve(memory, store, args.fact, args.keep)
    except (review.MemoryReviewError, EmbeddingError) as exc:
        _err(str(exc))
        return EXIT_FAIL
    if args.json or not isinstance(found, list):
        _out(found, True)
    else:
        _out("\n".join(_memory_line(r) for r in found) or "nothing found", False)
    return EXIT_OK


def _memory_line(row: dict[str, Any]) -> str:
    if "fact" in row:  # a conflict
        old = row["contradicts"] or {}
        return (
            f"{row['fact']['fact_id']} contradicts {old.get('fact_id', '?')} "
            f"({row['fact']['contact']}, {row['fact']['topic']}):\n"
            f"  new: {row['fact']['text']}\n  old: {old.get('text', '(gone)')}"
        )
    key = row.get("fact_id") or row.get("row_id")
    what = row.get("topic") or row.get("state")
    return (
        f"{key} {row['kind']:<13} {row.get('status', ''):<10} {row['contact']} {what}: "
        + (" ".join(str(row["text"]).split())[:100])
    )


def cmd_delivery(args: argparse.Namespace) -> int:
    _, store = _setup(args)
    from ops_assets.governance.controls import ControlError, decide_delivery

    try:
        result = decide_delivery(store, args.item, was_sent=args.was_sent)
    except ControlError as exc:
        _err(str(exc))
        return EXIT_FAIL
    _out(result, True)
    return EXIT_OK


def cmd_kill(args: argparse.Namespace) -> int:
    _, store = _setup(args)
    from ops_assets.governance.controls import kill

    kill(store)
    _err("kill switch ON: no model call or send until `opsbench resume`")
    _out({"kill_switch": "on"}, True)
    return EXIT_OK


def cmd_resume(args: argparse.Namespace) -> int:
    _, store = _setup(args)
    from ops_assets.governance.controls import resume

    moved = resume(store)
    _out({"kill_switch": "off", "released": moved}, True)
    return EXIT_OK


def cmd_approvals(args: argparse.Namespace) -> int:
    _, store = _setup(args)
    from ops_assets.governance.controls import awaiting

    records = awaiting(store)
    if args.json:
        _out(records, True)
    else:
        for r in records:
            print(f"{r['id']}  {r['rule']:<24} to {r['to']}  {r['subject']}")
            print("    " + (r["draft"] or "").replace("\n", "\n    "))
            if r["invite_slots"]:
                print("    proposes: " + ", ".join(r["invite_slots"]))
    return EXIT_OK


def cmd_approve(args: argparse.Namespace) -> int:
    _, store = _setup(args)
    from ops_assets.governance.controls import ControlError, approve

    try:
        result = approve(
            store, load_config(args.config), args.item, edit=Path(args.edit) if args.edit else None
        )
    except (ControlError, OSError) as exc:
        _err(str(exc))
        return EXIT_FAIL
    _out(result, True)
    return EXIT_OK


def cmd_reject(args: argparse.Namespace) -> int:
    _, store = _setup(args)
    from ops_assets.governance.controls import ControlError, reject

    try:
        result = reject(store, args.item, reason=args.reason)
    except ControlError as exc:
        _err(str(exc))
        return EXIT_FAIL
    _out(result, True)
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    home, _ = _setup(args, create=True)
    from opsbench.workbench import run_workbench
    from resources.llm.local_server import LocalServerError
    from resources.llm.weights import WeightsError

    try:
        return run_workbench(
            home,
            port=args.port,
            llm=environment().llm or "local",
            seed=not args.no_samples,
        )
    except (LocalServerError, WeightsError) as exc:
        _err(f"--llm local: {exc}")
        return EXIT_FAIL


# ------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="opsbench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser, *, json_flag: bool = True) -> None:
        p.add_argument("--home", help="state folder (OPSBENCH_HOME, default ./.opsbench)")
        p.add_argument("--config", help="config file (OPSBENCH_CONFIG, default: the sample)")
        if json_flag:
            p.add_argument("--json", action="store_true", help="machine-readable output")

    demo = sub.add_parser("demo", help="run the pipeline headless over a folder of mail")
    demo.add_argument("--inbox", required=True, help="folder whose files are copied in")
    demo.add_argument(
        "--llm",
        help="scripted | replay:FILE | local | http(s)://base-url (OPSBENCH_LLM, default local)",
    )
    demo.add_argument("--record", help="append every model response to this file for replay")
    demo.add_argument("--timeout", type=float, default=600.0, help="seconds (exit 3 after)")
    common(demo)
    demo.set_defaults(func=cmd_demo)

    items = sub.add_parser("items", help="one record per input")
    common(items)
    items.set_defaults(func=cmd_items)

    show = sub.add_parser("show", help="an item's original, outputs, deliveries and audit")
    show.add_argument("item")
    common(show)
    show.set_defaults(func=cmd_show)

    retry = sub.add_parser("retry", help="release a held item back into the flow")
    retry.add_argument("item")
    common(retry, json_flag=False)
    retry.set_defaults(func=cmd_retry)

    status = sub.add_parser("status", help="states, budgets, kill switch, sensors, failures")
    common(status)
    status.set_defaults(func=cmd_status)

    audit = sub.add_parser("audit", help="the whole story of one item, calls and costs included")
    audit.add_argument("item")
    common(audit)
    audit.set_defaults(func=cmd_audit)

    export = sub.add_parser("export", help="everything known about a contact, as JSON")
    export.add_argument("--contact", required=True, help="the contact's email address")
    common(export, json_flag=False)
    export.set_defaults(func=cmd_export)

    erase = sub.add_parser("erase", help="remove a contact from memory, store and files")
    erase.add_argument("--contact", required=True, help="the contact's email address")
    common(erase)
    erase.set_defaults(func=cmd_erase)

    memory = sub.add_parser("memory", help="search memory, list facts, settle contradictions")
    memory_sub = memory.add_subparsers(dest="memory_command", required=True)
    search = memory_sub.add_parser("search", help="hybrid search (vector + full text)")
    search.add_argument("query")
    search.add_argument("--contact", help="only this contact's rows")
    search.add_argument("--table", choices=("episodic", "facts"), default="episodic")
    search.add_argument("--limit", type=int, default=10)
    facts = memory_sub.add_parser("facts", help="consolidated facts, with status and sources")
    facts.add_argument("--contact", help="only this contact's facts")
    memory_sub.add_parser("conflicts", help="contested facts beside what they contradict")
    resolve = memory_sub.add_parser("resolve", help="settle a contested fact")
    resolve.add_argument("fact")
    resolve.add_argument("--keep", required=True, choices=("new", "old", "both"))
    for verb in memory_sub.choices.values():
        common(verb)
    memory.set_defaults(func=cmd_memory)

    decide = sub.add_parser(
        "delivery", help="decide an unconfirmed or failed send: it arrived, or send it again"
    )
    decide.add_argument("item")
    choice = decide.add_mutually_exclusive_group(required=True)
    choice.add_argument("--was-sent", action="store_true", help="it arrived: mark delivered")
    choice.add_argument("--resend", action="store_true", help="it did not: send it again")
    common(decide, json_flag=False)
    decide.set_defaults(func=cmd_delivery)

    crm = sub.add_parser("crm", help="contacts and deals the CRM executor keeps")
    common(crm)
    crm.set_defaults(func=cmd_crm)

    cost = sub.add_parser("cost", help="cost per delivered outcome, per workflow, category, day")
    common(cost)
    cost.set_defaults(func=cmd_cost)

    reprocess = sub.add_parser(
        "reprocess", help="re-run an agent over past batches as a backfill, then diff outputs"
    )
    reprocess.add_argument("--agent", required=True, help="triage | reply_draft")
    chosen = reprocess.add_mutually_exclusive_group()
    chosen.add_argument("--since", help="batches created on or after this ISO date")
    chosen.add_argument("--batch", action="append", help="a batch key (repeatable)")
    reprocess.add_argument(
        "--ui", help="a running webserver (http://127.0.0.1:3000): backfill through its daemon"
    )
    reprocess.add_argument("--llm", help="as for demo (default local)")
    reprocess.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait")
    common(reprocess)
    reprocess.set_defaults(func=cmd_reprocess)

    prompts = sub.add_parser("prompts", help="prompt versions and regression tests")
    prompts_sub = prompts.add_subparsers(dest="prompts_command", required=True)
    prompts_test = prompts_sub.add_parser(
        "test",
        help="replay the failures dataset and golden set against a candidate prompt "
        "(exit 1 if any case regresses)",
    )
    prompts_test.add_argument("agent", help="triage | reply_draft")
    prompts_test.add_argument(
        "--prompt", help="candidate: YAML with system/user templates, or a text system prompt"
    )
    prompts_test.add_argument("--llm", help="as for demo (default local)")
    common(prompts_test)
    prompts_test.set_defaults(func=cmd_prompts_test)

    kill = sub.add_parser("kill", help="stop every model call and send (within one tick)")
    common(kill, json_flag=False)
    kill.set_defaults(func=cmd_kill)

    resume = sub.add_parser("resume", help="lift the kill switch; held items continue")
    common(resume, json_flag=False)
    resume.set_defaults(func=cmd_resume)

    approvals = sub.add_parser("approvals", help="items waiting for the owner's approval")
    common(approvals)
    approvals.set_defaults(func=cmd_approvals)

    approve = sub.add_parser("approve", help="approve a held reply (optionally edited)")
    approve.add_argument("item")
    approve.add_argument("--edit", help="a file with the reply body to send instead")
    common(approve, json_flag=False)
    approve.set_defaults(func=cmd_approve)

    reject = sub.add_parser("reject", help="reject a held reply")
    reject.add_argument("item")
    reject.add_argument("--reason", required=True)
    common(reject, json_flag=False)
    reject.set_defaults(func=cmd_reject)

    run = sub.add_parser("run", help="the live workbench: model server, Dagster daemon and UI")
    run.add_argument("--port", type=int, default=3000, help="UI port on 127.0.0.1")
    run.add_argument("--llm", help="as for demo (default local)")
    run.add_argument(
        "--no-samples", action="store_true", help="do not copy the sample inbox into a new home"
    )
    common(run, json_flag=False)
    run.set_defaults(func=cmd_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Telemetry and hub look-ups stay off however the CLI is started (make sets them too).
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        _err(f"config error: {exc}")
        return EXIT_CONFIG
    except NoHome as exc:
        _err(str(exc))
        return EXIT_FAIL


if __name__ == "__main__":
    raise SystemExit(main())
