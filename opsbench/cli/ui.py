"""How results look to a person: rich tables on stdout, progress bars on stderr.

Progress is drawn only for a person watching: never with --json, never when stderr is not a
terminal (a script's log stays clean). Tables are for text mode only; --json prints the
records themselves."""

import datetime as dt
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table


def stdout() -> Console:
    """A console on the current sys.stdout (tests swap it)."""
    return Console(file=sys.stdout)


def show(*renderables: Any) -> None:
    """Print on stdout. Into a pipe or a file, as wide as the content needs, so a row stays
    one line for grep; on a terminal, as wide as the terminal."""
    console = stdout()
    if not console.is_terminal:
        wide = Console(file=sys.stdout, width=10_000)
        needed = max((wide.measure(r).maximum for r in renderables), default=80)
        console = Console(file=sys.stdout, width=max(80, needed))
    for renderable in renderables:
        console.print(renderable)


def stderr() -> Console:
    return Console(file=sys.stderr, stderr=True)


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    shown = Table(title=title, title_justify="left", header_style="bold", expand=False)
    for name in columns:
        shown.add_column(name, overflow="fold")
    for row in rows:
        shown.add_row(*("" if cell is None else str(cell) for cell in row))
    return shown


def print_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    show(table(title, columns, rows))


def age(stamp: str | None, now: dt.datetime | None = None) -> str:
    """How long ago an ISO time was, as a person says it: 45s, 12m, 3h, 2d."""
    if not stamp:
        return "-"
    try:
        moment = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return "-"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    seconds = max(0, int(((now or dt.datetime.now(dt.UTC)) - moment).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def progress_shown(as_json: bool) -> bool:
    return not as_json and stderr().is_terminal


@contextmanager
def counting(
    label: str, poll: Callable[[], tuple[int, int | None]], *, as_json: bool, every_s: float = 0.5
) -> Iterator[None]:
    """A bar of done/total while the body runs; `poll` is asked from a thread every
    `every_s` (a total of None draws a spinner). Nothing at all when not shown."""
    if not progress_shown(as_json):
        yield
        return
    columns = (
        SpinnerColumn(),
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=stderr(), transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update() -> None:
            done, total = poll()
            bar.update(task, completed=done, total=total)

        with _every(every_s, update):
            yield


@contextmanager
def spinner(label: str, *, as_json: bool) -> Iterator[None]:
    """An indeterminate bar with the elapsed time, for work that cannot count itself."""
    if not progress_shown(as_json):
        yield
        return
    columns = (SpinnerColumn(), TextColumn(label), TimeElapsedColumn())
    with Progress(*columns, console=stderr(), transient=True) as bar:
        bar.add_task(label, total=None)
        yield


@contextmanager
def download_bar(label: str, total: int, *, shown: bool) -> Iterator[Callable[[Any], None]]:
    """A bar fed by a download's own progress hook (resources/llm/weights.py: Transfer, with
    `bytes` so far): yields the hook; a no-op hook when nothing is shown."""
    if not shown:
        yield lambda _transfer: None
        return
    columns = (
        TextColumn(label),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=stderr(), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda transfer: bar.update(task, completed=min(transfer.bytes, total))


@contextmanager
def _every(every_s: float, update: Callable[[], None]) -> Iterator[None]:
    """Call `update` from a thread every `every_s` while the body runs."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every_s):
            try:
                update()
            except Exception:  # noqa: S112 - a progress bar never breaks the work
                continue

    watcher = threading.Thread(target=loop, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()
