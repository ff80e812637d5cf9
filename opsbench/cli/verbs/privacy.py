"""Privacy: `export` (everything known about a contact) and `erase` (remove them)."""

from typing import Annotated

import typer

from opsbench.cli import ui
from opsbench.cli.core import (
    EXIT_FAIL,
    EXIT_OK,
    Config,
    Home,
    Json,
    Yes,
    app,
    confirm,
    err,
    out,
    setup,
)

PANEL = "Privacy"
Contact = Annotated[str, typer.Option("--contact", help="the contact's email address")]


@app.command(rich_help_panel=PANEL)
def export(contact: Contact, home: Home = None, config: Config = None) -> int:
    """Everything known about a contact, as one JSON object."""
    opened, store = setup(home, config)
    from opsbench.privacy import export as export_contact

    out(export_contact(opened, store, contact), True)
    return EXIT_OK


@app.command(rich_help_panel=PANEL)
def erase(
    contact: Contact, home: Home = None, config: Config = None, json: Json = False, yes: Yes = False
) -> int:
    """Remove a contact from memory, store and files, then scan the home (asks first)."""
    opened, store = setup(home, config)
    confirm(
        f"Erase {contact} from memory, the store and every file? This cannot be undone.",
        yes=yes,
        refusal="erase not confirmed",
    )
    from opsbench.privacy import erase as erase_contact

    with ui.spinner(f"erasing {contact}", as_json=json):
        report = erase_contact(opened, store, contact)
    out(
        report
        if json
        else (
            f"erased {report['items']} item(s), {report['memory_rows']} memory row(s), "
            f"{report['files']} file(s); store rows: {report['store_rows']}"
        ),
        json,
    )
    if report["still_found"]:
        err(f"still found in: {', '.join(report['still_found'])}")
        return EXIT_FAIL
    return EXIT_OK
