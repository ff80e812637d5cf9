"""Controls: `delivery` (the owner's word on a held send), `kill` and `resume`."""

from typing import Annotated

import typer

from opsbench.cli.core import (
    EXIT_FAIL,
    EXIT_OK,
    Config,
    Home,
    Item,
    Yes,
    app,
    confirm,
    err,
    out,
    setup,
)

PANEL = "Controls"


@app.command(rich_help_panel=PANEL)
def delivery(
    item: Item,
    was_sent: Annotated[
        bool, typer.Option("--was-sent", help="it arrived: mark delivered")
    ] = False,
    resend: Annotated[bool, typer.Option("--resend", help="it did not: send it again")] = False,
    home: Home = None,
    config: Config = None,
) -> int:
    """Decide an unconfirmed or failed send: it arrived, or send it again (same key)."""
    if was_sent == resend:
        raise typer.BadParameter("give exactly one of --was-sent or --resend")
    _, store = setup(home, config)
    from ops_assets.governance.controls import ControlError, decide_delivery

    try:
        result = decide_delivery(store, item, was_sent=was_sent)
    except ControlError as exc:
        err(str(exc))
        return EXIT_FAIL
    out(result, True)
    return EXIT_OK


@app.command(rich_help_panel=PANEL)
def kill(home: Home = None, config: Config = None, yes: Yes = False) -> int:
    """Stop every model call and send within one sensor tick (asks first; --yes for scripts)."""
    _, store = setup(home, config)
    confirm(
        "Stop every model call and send until `opsbench resume`?",
        yes=yes,
        refusal="kill not confirmed",
    )
    from ops_assets.governance.controls import kill as switch_on

    switch_on(store)
    err("kill switch ON: no model call or send until `opsbench resume`")
    out({"kill_switch": "on"}, True)
    return EXIT_OK


@app.command(rich_help_panel=PANEL)
def resume(home: Home = None, config: Config = None) -> int:
    """Lift the kill switch; held items continue."""
    _, store = setup(home, config)
    from ops_assets.governance.controls import resume as switch_off

    moved = switch_off(store)
    out({"kill_switch": "off", "released": moved}, True)
    return EXIT_OK
