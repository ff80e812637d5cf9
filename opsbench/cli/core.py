"""What every verb shares: the typer app, exit codes, the common options, output to stdout
and errors to stderr, and opening the home a verb works on."""

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from opsbench.cli.completion import complete_item_ids
from resources.settings.config import ConfigError, load_config
from resources.settings.environment import environment

EXIT_OK, EXIT_FAIL, EXIT_CONFIG, EXIT_TIMEOUT, EXIT_HELD = 0, 1, 2, 3, 4

app = typer.Typer(
    name="opsbench",
    help="The operator's daily verbs. stdout carries only the result; progress goes to stderr. "
    "Exit codes: 0 ok, 1 failure, 2 configuration error, 3 timeout, 4 (demo) held by the "
    "kill switch.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # errors are one line (main); --debug shows the traceback
    rich_markup_mode="rich",
)


class NoHome(Exception):
    """A verb that reads a home was pointed at a folder that is not one."""


class CliError(Exception):
    """A failure the operator can act on: one line on stderr and this exit code."""

    def __init__(self, message: str, code: int = EXIT_FAIL) -> None:
        super().__init__(message)
        self.code = code


# The options most verbs take. Defaults are None: the environment (read in one place) decides.
Home = Annotated[
    str | None, typer.Option("--home", help="state folder (OPSBENCH_HOME, default ./.opsbench)")
]
Config = Annotated[
    str | None, typer.Option("--config", help="config file (OPSBENCH_CONFIG, default: the sample)")
]
Json = Annotated[bool, typer.Option("--json", help="machine-readable output")]
Llm = Annotated[
    str | None,
    typer.Option(
        "--llm",
        help="scripted | replay:FILE | local | http(s)://base-url (OPSBENCH_LLM, default local)",
    ),
]
Item = Annotated[str, typer.Argument(help="an item id", autocompletion=complete_item_ids)]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="do not ask (for scripts)")]


def err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def out(value: Any, as_json: bool) -> None:
    """The result on stdout: JSON on one line with --json, indented JSON or text without."""
    print(
        json.dumps(value, indent=None if as_json else 2, default=str)
        if as_json or not isinstance(value, str)
        else value
    )


def setup(
    home: str | None,
    config: str | None,
    *,
    create: bool = False,
    starts_work: bool = False,
    llm: str | None = None,
    record: str | None = None,
) -> Any:
    """Export the choices to the environment the Dagster code reads, then open home and store.
    Only `demo` and `run` create a home: a mistyped --home is an error, not an empty report.
    Verbs that start work (`starts_work`) refuse to begin unless every model they could pay
    for has a price."""
    from resources.settings.home import home_path, open_home

    # A home is its folders (the store may live on Postgres, not in store.sqlite).
    if not create and not (home_path(home) / "dagster").is_dir():
        raise NoHome(f"no Opsbench home at {home_path(home)} (see --home / OPSBENCH_HOME)")
    opened = open_home(home)
    os.environ["OPSBENCH_HOME"] = str(opened.root)
    os.environ["DAGSTER_HOME"] = str(opened.dagster)
    if config:
        os.environ["OPSBENCH_CONFIG"] = str(Path(config).resolve())
    if llm:
        os.environ["OPSBENCH_LLM"] = llm
    if record:
        os.environ["OPSBENCH_RECORD"] = str(Path(record).resolve())
    loaded = load_config(config)  # fail early with a clear message
    if starts_work:
        require_prices(loaded)
    from resources.store.resource import store_for

    return opened, store_for(opened.store_url)


def require_prices(config: Any) -> None:
    """Every model this work could pay for has a price, or nothing starts (exit 2)."""
    from resources.llm.endpoints import EndpointError
    from resources.llm.pricing import require_prices_for
    from resources.settings.policy import load_policy

    spec = environment().llm or "local"
    try:
        require_prices_for(spec, config, load_policy(config.policy_file).budgets)
    except EndpointError as exc:
        raise ConfigError(str(exc)) from exc


def interactive() -> bool:
    """Whether a person can answer a question (tests replace this)."""
    return sys.stdin.isatty()


def confirm(question: str, *, yes: bool, refusal: str) -> None:
    """Ask on stderr before an irreversible verb; without a terminal, only --yes proceeds."""
    if yes:
        return
    if not interactive():
        raise CliError(f"{refusal}: stdin is not a terminal, so pass --yes to confirm")
    if not typer.confirm(question, default=False, err=True):
        raise CliError("nothing done (not confirmed)")
