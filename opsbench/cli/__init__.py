"""`opsbench`: the operator's daily verbs on typer + rich.

A new verb goes in a module of `opsbench/cli/verbs/` (one file, found by itself): a function
under `@app.command()` from `opsbench.cli.core`, its logic in a module of `opsbench/` when it
is more than a few lines. `core` holds the shared options, `setup`, `out`/`err`, exit codes
and confirmations; `ui` the tables and progress bars; `main` the entry point and its errors.
"""

from opsbench.cli.main import main

__all__ = ["main"]
