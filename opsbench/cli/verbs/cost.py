"""What the work cost and whom it served: `cost` (per delivered outcome) and `crm`."""

from typing import Any

from rich.text import Text

from opsbench.cli import ui
from opsbench.cli.core import EXIT_OK, Config, Home, Json, app, out, setup

PANEL = "Reports"


@app.command(rich_help_panel=PANEL)
def cost(home: Home = None, config: Config = None, json: Json = False) -> int:
    """Cost per delivered outcome, and per workflow, category and day."""
    _, store = setup(home, config)
    from ops_assets.defs.costs.won_deals import won_deals
    from ops_assets.observability.costs import cost_report

    report = {**cost_report(store), "won_deals": won_deals(store)}
    if json:
        out(report, True)
        return EXIT_OK
    per = report["cost_per_outcome_usd"]
    summary = Text(
        f"{report['model_calls']} paid calls, {report['cache_hits']} cache hits, "
        f"{report['tokens_in']}/{report['tokens_out']} tokens, ${report['cost_usd']:.6f} "
        f"(saved ${report['saved_usd']:.6f} by the call ledger)\n"
        f"{len(report['outcomes'])} delivered outcomes"
        + (f", ${per:.6f} each on average" if per is not None else "")
        + f"\nunattributed: {report['unattributed']['model_calls']} calls, "
        f"${report['unattributed']['cost_usd']:.6f}" + _won_line(report["won_deals"])
    )
    breakdowns = [
        _breakdown(title, report[title.replace(" ", "_")])
        for title in ("by workflow", "by category", "by day")
    ]
    ui.show(summary, *breakdowns)
    return EXIT_OK


def _won_line(won: dict[str, Any]) -> str:
    per = won["cost_per_won_deal_usd"]
    return f"\n{won['deals_won']} won deals (accepted proposals)" + (
        f", ${per:.6f} each: every call of the lead and its answers" if per is not None else ""
    )


def _breakdown(title: str, rows: dict[str, dict[str, Any]]) -> Any:
    return ui.table(
        title,
        (title.removeprefix("by "), "calls", "cache hits", "tokens in/out", "USD"),
        [
            (
                name,
                row.get("model_calls", 0),
                row.get("cache_hits", 0),
                f"{row.get('tokens_in', 0)}/{row.get('tokens_out', 0)}",
                f"{row.get('cost_usd', 0.0):.6f}",
            )
            for name, row in rows.items()
        ],
    )


@app.command(rich_help_panel=PANEL)
def crm(home: Home = None, config: Config = None, json: Json = False) -> int:
    """The contacts and deals the CRM executor keeps, and the pipeline by stage with values."""
    _, store = setup(home, config)
    from ops_assets.defs.crm.pipeline import pipeline_by_stage

    deals = store.deals()
    report = {"contacts": store.contacts(), "deals": deals, "pipeline": pipeline_by_stage(deals)}
    if json:
        out(report, True)
        return EXIT_OK
    if not report["contacts"] and not report["deals"]:
        out("no contacts yet", False)
        return EXIT_OK
    shown = [
        ui.table(
            "contacts",
            ("email", "name", "company", "in", "out", "last category", "last seen"),
            [
                (
                    c["email"],
                    c["name"],
                    c["company"],
                    c["messages"],
                    c["replies_sent"],
                    c["last_category"],
                    ui.age(c["last_seen"]) + " ago",
                )
                for c in report["contacts"]
            ],
        )
    ]
    if report["deals"]:
        shown.append(
            ui.table(
                "deals",
                ("id", "stage", "contact", "amount", "title"),
                [
                    (d["id"], d["stage"], d["contact_email"], d["amount"], d["title"])
                    for d in report["deals"]
                ],
            )
        )
        shown.append(
            ui.table(
                "pipeline",
                ("stage", "deals", "value"),
                [
                    (
                        stage,
                        row["deals"],
                        ", ".join(f"{v:,.2f} {c}" for c, v in row["value"].items()) or "-",
                    )
                    for stage, row in report["pipeline"].items()
                ],
            )
        )
    ui.show(*shown)
    return EXIT_OK
