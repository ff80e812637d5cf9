"""The `opsbench` entry point: load every verb, run one, and turn any failure into one readable
line on stderr with its exit code (`--debug`, anywhere on the line, shows the traceback)."""

import importlib
import os
import pkgutil
import sys
import traceback
from collections.abc import Sequence

import typer
from typer.main import get_command

from opsbench.cli.core import EXIT_CONFIG, EXIT_FAIL, EXIT_OK, CliError, NoHome, app, err
from resources.settings.config import ConfigError

EXIT_USAGE = 2  # a mistyped command line, as argparse exited before


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="show the traceback of an error"),
) -> None:
    """The operator's daily verbs. stdout carries only the result; progress goes to stderr.
    Exit codes: 0 ok, 1 failure, 2 configuration error, 3 timeout, 4 (demo) held by the kill
    switch."""


def load_verbs() -> None:
    """Import every module of opsbench.cli.verbs: each registers its verbs on the app."""
    from opsbench.cli import verbs

    for module in sorted(pkgutil.iter_modules(verbs.__path__), key=lambda m: m.name):
        importlib.import_module(f"{verbs.__name__}.{module.name}")


def _arguments(argv: Sequence[str]) -> tuple[list[str], bool]:
    """The arguments for click, and whether --debug was given. `--debug` may follow the verb
    (`opsbench items --debug`); a bare `approve ITEM --edit` means: edit in $EDITOR."""
    args = list(argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    if "approve" in args and "--edit" in args:
        at = args.index("--edit")
        if at + 1 == len(args) or args[at + 1].startswith("-"):
            args[at] = "--edit="  # an empty FILE: the approve verb opens the editor
    return (["--debug"] if debug else []) + args, debug


def main(argv: Sequence[str] | None = None) -> int:
    # Telemetry and hub look-ups stay off however the CLI is started (make sets them too).
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    load_verbs()
    args, debug = _arguments(sys.argv[1:] if argv is None else argv)
    try:
        code = get_command(app).main(args=args, prog_name="opsbench", standalone_mode=False)
    except ConfigError as exc:
        return _failed(f"config error: {exc}", EXIT_CONFIG, debug)
    except (NoHome, CliError) as exc:
        return _failed(str(exc), getattr(exc, "code", EXIT_FAIL), debug)
    except typer.Abort:
        return _failed("aborted", EXIT_FAIL, debug)
    except typer.TyperException as exc:  # click's usage errors: a mistyped command line
        return _failed(f"opsbench: {exc.format_message()} (see --help)", EXIT_USAGE, debug)
    except KeyboardInterrupt:
        return _failed("interrupted", 130, debug)
    except Exception as exc:  # the last word: one line, not a traceback
        return _failed(f"error: {type(exc).__name__}: {exc}", EXIT_FAIL, debug)
    return code if isinstance(code, int) else EXIT_OK


def _failed(message: str, code: int, debug: bool) -> int:
    if debug:
        traceback.print_exc(file=sys.stderr)
    err(" ".join(message.split()))  # one line, whatever the message carried
    return code
