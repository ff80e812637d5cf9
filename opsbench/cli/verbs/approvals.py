"""Approvals: `approvals`, `approve`, `reject` — the replies the policy holds for the owner."""

import tempfile
from pathlib import Path
from typing import Annotated, Any

import click
import typer

from opsbench.cli import ui
from opsbench.cli.core import (
    EXIT_FAIL,
    EXIT_OK,
    CliError,
    Config,
    Home,
    Item,
    Json,
    app,
    err,
    out,
    setup,
)
from resources.settings.config import load_config

PANEL = "Approvals"


@app.command(rich_help_panel=PANEL)
def approvals(home: Home = None, config: Config = None, json: Json = False) -> int:
    """Replies the policy holds for the owner, with rule, flags, recipient and draft."""
    _, store = setup(home, config)
    from ops_assets.governance.controls import awaiting

    records = awaiting(store)
    if json:
        out(records, True)
        return EXIT_OK
    if not records:
        out("nothing waits for approval", False)
        return EXIT_OK
    shown = ui.table(
        f"{len(records)} waiting for approval",
        ("id", "rule", "to", "subject", "draft"),
        [
            (
                r["id"],
                r["rule"],
                r["to"],
                r["subject"],
                (r["draft"] or "")
                + ("\nproposes: " + ", ".join(r["invite_slots"]) if r["invite_slots"] else ""),
            )
            for r in records
        ],
    )
    shown.show_lines = True
    ui.show(shown)
    return EXIT_OK


Edit = Annotated[
    str | None,
    typer.Option(
        "--edit",
        metavar="[FILE]",
        help="send this file's text instead of the draft; --edit alone opens $EDITOR on it",
    ),
]


@app.command(rich_help_panel=PANEL)
def approve(item: Item, edit: Edit = None, home: Home = None, config: Config = None) -> int:
    """Approve a held reply (optionally edited); the approvals sensor launches its delivery."""
    _, store = setup(home, config)
    from ops_assets.governance.controls import ControlError
    from ops_assets.governance.controls import approve as approve_item

    try:
        if edit == "":  # a bare --edit (main passes it as an empty FILE)
            with tempfile.TemporaryDirectory(prefix="opsbench-edit-") as folder:
                body = Path(folder) / f"{item}.txt"
                body.write_text(_edited_draft(store, item), encoding="utf-8")
                result = approve_item(store, load_config(config), item, edit=body)
        else:
            result = approve_item(
                store, load_config(config), item, edit=Path(edit) if edit else None
            )
    except (ControlError, OSError) as exc:
        err(str(exc))
        return EXIT_FAIL
    out(result, True)
    return EXIT_OK


def _edited_draft(store: Any, item: str) -> str:
    """The held draft after the owner edited it in $EDITOR (nothing saved: nothing done)."""
    from ops_assets.governance.controls import awaiting

    held = next((r for r in awaiting(store) if r["id"] == item), None)
    if held is None or held["draft"] is None:
        raise CliError(f"{item} is not waiting for approval with a draft")
    edited = click.edit(held["draft"], extension=".txt", require_save=True)
    if edited is None:
        raise CliError("the draft was not saved in the editor: nothing approved")
    return edited


@app.command(rich_help_panel=PANEL)
def reject(
    item: Item,
    reason: Annotated[str, typer.Option("--reason", help="why (kept in the audit log)")],
    home: Home = None,
    config: Config = None,
) -> int:
    """Reject a held reply; nothing is sent."""
    _, store = setup(home, config)
    from ops_assets.governance.controls import ControlError
    from ops_assets.governance.controls import reject as reject_item

    try:
        result = reject_item(store, item, reason=reason)
    except ControlError as exc:
        err(str(exc))
        return EXIT_FAIL
    out(result, True)
    return EXIT_OK
