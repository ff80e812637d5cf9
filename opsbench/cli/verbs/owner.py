"""The owner's own word: `reply` (write the answer yourself) and `recategorize` (say what an
item is). Both are labels the system learns from, recorded with the owner's provenance."""

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import click
import typer

from opsbench.cli.core import EXIT_FAIL, EXIT_OK, CliError, Config, Home, Item, app, err, out, setup
from resources.settings.config import load_config

if TYPE_CHECKING:
    from resources.store import Store

PANEL = "Approvals"

TextFile = Annotated[
    Path | None,
    typer.Option("--file", help="the reply's text from this file (default: $EDITOR; - = stdin)"),
]


@app.command(rich_help_panel=PANEL)
def reply(item: Item, file: TextFile = None, home: Home = None, config: Config = None) -> int:
    """Write the reply to an item that waits for you; it goes through the same checks, policy,
    ledger and delivery as an approved draft, recorded as yours."""
    _, store = setup(home, config)
    from ops_assets.governance.controls import ControlError
    from ops_assets.governance.owner_reply import write_reply

    text = _reply_text(store, item, file)
    try:
        result = write_reply(store, load_config(config), item, text)
    except ControlError as exc:
        err(str(exc))
        return EXIT_FAIL
    out(result, True)
    return EXIT_OK


def _reply_text(store: "Store", item: str, file: Path | None) -> str:
    if file is not None:
        return sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    found = store.get_item(item)
    if found is None:
        raise CliError(f"no item {item}")
    quoted = "\n".join(f"# > {line}" for line in (found.get("body") or "").splitlines()[:40])
    written = click.edit(
        f"\n\n# Your reply to {found.get('sender')}: {found.get('subject')}\n"
        f"# Lines starting with # are dropped.\n{quoted}\n",
        extension=".txt",
        require_save=True,
    )
    if written is None:
        raise CliError("the reply was not saved in the editor: nothing sent")
    text = "\n".join(line for line in written.splitlines() if not line.startswith("#")).strip()
    if not text:
        raise CliError("the reply is empty: nothing sent")
    return text


@app.command(rich_help_panel=PANEL)
def recategorize(
    item: Item,
    category: Annotated[str, typer.Argument(help="billing, support, sales, spam or other")],
    home: Home = None,
    config: Config = None,
) -> int:
    """Say what an item really is: the classifier learns it at its next training."""
    _, store = setup(home, config)
    from ops_assets.defs.triage.corrections import recategorize as record
    from ops_assets.governance.controls import ControlError

    try:
        result = record(store, item, category)
    except ControlError as exc:
        err(str(exc))
        return EXIT_FAIL
    out(result, True)
    return EXIT_OK
