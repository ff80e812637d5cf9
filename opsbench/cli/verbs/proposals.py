"""`proposals`: the proposals workflow's pipeline — each lead's latest proposal, its deal
stage, version, value and age (ops_assets/defs/proposals/)."""

from opsbench.cli import ui
from opsbench.cli.core import EXIT_OK, Config, Home, Json, app, out, setup

PANEL = "Workflows"


@app.command(rich_help_panel=PANEL)
def proposals(home: Home = None, config: Config = None, json: Json = False) -> int:
    """Proposals with deal stage, version, status, value, checks passed and age."""
    _, store = setup(home, config)
    from ops_assets.defs.proposals.pipeline import pipeline

    rows = pipeline(store)
    if json:
        out(rows, True)
        return EXIT_OK
    if not rows:
        out("no proposals yet", False)
        return EXIT_OK
    ui.show(
        ui.table(
            f"{len(rows)} proposals",
            ("item", "stage", "version", "status", "value", "checks", "age"),
            [
                (
                    r["item_id"],
                    r["stage"],
                    r["version"],
                    r["status"],
                    f"{r['value']:,.2f} {r['currency']}",
                    r["verified_checks"],
                    f"{r['age_days']}d",
                )
                for r in rows
            ],
        )
    )
    return EXIT_OK
