"""`status`: what an operator checks first — states, budgets, kill switch, sensors, deferred
work, recent failures, alerts and memory."""

from typing import Any

from rich.console import Group
from rich.text import Text

from opsbench.cli import ui
from opsbench.cli.core import EXIT_OK, Config, Home, Json, app, out, setup


def deferred_lines(groups: dict[str, Any]) -> list[str]:
    """Per reason: how many wait and when the first is next tried (also used by `demo`)."""
    lines = []
    for reason, group in groups.items():
        when = f"until {group['waits_for']}"
        if group["next_try"]:
            when = f"next try {group['next_try']} (waits for {group['waits_for']})"
        lines.append(f"deferred {reason}: {group['count']}, {when}")
    return lines


@app.command(rich_help_panel="Items")
def status(home: Home = None, config: Config = None, json: Json = False) -> int:
    """Counts per state, budgets, kill switch, sensors, deferred items, failures, memory."""
    opened, store = setup(home, config)
    from opsbench.status import status as report_of

    report = report_of(opened, store)
    if json:
        out(report, True)
    else:
        ui.show(_status_view(report))
    return EXIT_OK


def _status_view(report: dict[str, Any]) -> Group:
    memory = report["memory"]
    head = Text(
        f"home {report['home']}\nkill switch: {report['kill_switch']}\n"
        f"memory: {memory['episodic_rows']} episodes, {memory['facts']} facts, "
        f"{memory['contested_facts']} contested (opsbench memory conflicts), "
        f"{memory['unconsolidated_rows']} rows for the archivist\n"
        f"alerts: {report['alerts']['count']} (see <home>/alerts/alerts.jsonl)"
    )
    parts: list[Any] = [head]
    states = [(k, v) for k, v in report["states"].items() if v]
    parts.append(ui.table("states", ("state", "items"), states or [("none", 0)]))
    parts.append(
        ui.table(
            "budgets today (USD)",
            ("budget", "used", "limit", "left"),
            [
                (k, f"{v['used_usd']:.4f}", f"{v['limit_usd']:.2f}", f"{v['left_usd']:.4f}")
                for k, v in report["budgets"].items()
            ],
        )
    )
    parts.append(ui.table("sensors", ("sensor", "state"), list(report["sensors"].items())))
    latency = report["model_call_latency"]
    parts.append(
        ui.table(
            "model-call latency, 30 days (ms; paid calls, cache hits excluded)",
            ("agent", "calls", "p50", "p95"),
            [(a, v["calls"], v["p50_ms"], v["p95_ms"]) for a, v in latency.items()]
            or [("none yet", 0, "-", "-")],
        )
    )
    if report["deferred"]:
        parts.append(Text("\n".join(deferred_lines(report["deferred_groups"]))))
        parts.append(
            ui.table(
                "deferred",
                ("id", "reason", "attempt", "next try"),
                [
                    (d["id"], d["reason_code"], d["attempt"], d["next_try"] or "on resume")
                    for d in report["deferred"]
                ],
            )
        )
    if report["last_failures"]:
        parts.append(
            ui.table(
                "recent failures",
                ("id", "state", "reason"),
                [(f["id"], f["state"], f["reason_code"]) for f in report["last_failures"]],
            )
        )
    if report["alerts"]["last"]:
        parts.append(
            ui.table(
                "last alerts",
                ("at", "kind", "check, job, item or delivery", "run"),
                [
                    (
                        a["at"],
                        a["kind"],
                        # A failed send or digest names its item or delivery, not a run.
                        a.get("check") or a.get("job") or a.get("item_id") or a.get("delivery_id"),
                        (a.get("run_id") or "-")[:8],
                    )
                    for a in report["alerts"]["last"]
                ],
            )
        )
    return Group(*parts)
