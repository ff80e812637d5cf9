"""Items: `items`, `show`, `audit`, `retry` — what came in, where it rests, its whole story."""

from pathlib import Path
from typing import Any

from opsbench.cli import ui
from opsbench.cli.core import EXIT_FAIL, EXIT_OK, Config, Home, Item, Json, app, err, out, setup

PANEL = "Items"


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


@app.command(rich_help_panel=PANEL)
def items(home: Home = None, config: Config = None, json: Json = False) -> int:
    """One record per input: sender, subject, state and age (--json: every field)."""
    _, store = setup(home, config)
    rows = store.items()
    records = [item_record(store, i) for i in rows]
    if json:
        out(records, True)
        return EXIT_OK
    if not records:
        out("no items yet", False)
        return EXIT_OK
    ui.print_table(
        f"{len(records)} items",
        ("id", "sender", "subject", "state", "reason", "category", "age"),
        [
            (
                r["id"],
                r["sender"],
                r["subject"],
                r["state"],
                r["reason_code"],
                r["category"] or "-",
                ui.age(i.get("received_at") or i.get("created_at")),
            )
            for r, i in zip(records, rows, strict=True)
        ],
    )
    return EXIT_OK


@app.command(rich_help_panel=PANEL)
def show(item: Item, home: Home = None, config: Config = None, json: Json = False) -> int:
    """An item's original, every agent output, its deliveries and its audit trail."""
    _, store = setup(home, config)
    found = store.get_item(item)
    if found is None:
        err(f"no item {item}")
        return EXIT_FAIL
    original = Path(found["original_path"] or "")
    fields = ("output", "valid", "failure", "prompt_version", "model", "cached", "cost_usd")
    story = {
        "item": item_record(store, found),
        "original": original.read_text(errors="replace") if original.is_file() else None,
        "outputs": {
            o["asset"]: {k: o[k] for k in (*fields, "run_id")}
            for o in store.outputs_for(found["id"])
        },
        "deliveries": store.deliveries_for(found["id"]),
        "audit": store.audit_for(found["id"]),
    }
    from resources.store import proposals

    proposal = proposals.story(store, found["id"])
    if proposal is not None:  # the plan, the verifier's rows, each version and its diff
        story["proposal"] = proposal
    if json:
        out(story, True)
        return EXIT_OK
    from opsbench.cli.story_text import render

    out(render(story), False)
    return EXIT_OK


@app.command(rich_help_panel=PANEL)
def retry(item: Item, home: Home = None, config: Config = None) -> int:
    """Release a held item (quarantined, awaiting_human, deferred, duplicate) into a batch."""
    _, store = setup(home, config)
    from opsbench.retry import RetryError, retry_item

    try:
        batch = retry_item(store, item)
    except RetryError as exc:
        err(str(exc))
        return EXIT_FAIL
    out({"item": item, "state": "received", "batch": batch}, True)
    return EXIT_OK


@app.command(rich_help_panel=PANEL)
def audit(item: Item, home: Home = None, config: Config = None, json: Json = False) -> int:
    """The whole story of one item: calls and costs, checks, approvals, deliveries, runs."""
    opened, store = setup(home, config)
    from opsbench.audit import item_story

    story = item_story(opened, store, item)
    if story is None:
        err(f"no item {item}")
        return EXIT_FAIL
    if json:
        out(story, True)
        return EXIT_OK
    found = story["item"]
    lines = [
        f"{found['id']}  {found['source']}  {found['state']} {found['reason_code'] or ''}",
        f"  from {found['sender']}: {found['subject']}",
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
    out("\n".join(lines), False)
    return EXIT_OK
