"""`memory search | facts | conflicts | resolve`: what memory holds, as the drafter sees it,
and the owner's word on contradictions the archivist held back."""

from enum import StrEnum
from typing import Annotated, Any

import typer

from opsbench.cli import ui
from opsbench.cli.core import EXIT_FAIL, EXIT_OK, Config, Home, Json, app, err, out, setup
from resources.settings.config import load_config

memory_app = typer.Typer(help="search memory, list facts, settle contradictions")
app.add_typer(memory_app, name="memory", rich_help_panel="Memory")

Contact = Annotated[str | None, typer.Option("--contact", help="only this contact's rows")]


class TableName(StrEnum):
    episodic = "episodic"
    facts = "facts"


class Keep(StrEnum):
    new = "new"
    old = "old"
    both = "both"


def _review(home: str | None, config: str | None, action: Any, as_json: bool) -> int:
    """Open memory, run `action(review, memory, store)`, print what it found."""
    opened, store = setup(home, config)
    from opsbench import memory_review as review
    from resources.memory import EmbeddingError

    memory = review.reader(opened, load_config(config))
    try:
        found = action(review, memory, store)
    except (review.MemoryReviewError, EmbeddingError) as exc:
        err(str(exc))
        return EXIT_FAIL
    if as_json or not isinstance(found, list):
        out(found, True)
    elif not found:
        out("nothing found", False)
    elif "fact" in found[0]:
        out("\n".join(_conflict_lines(r) for r in found), False)
    else:
        _rows_table(found)
    return EXIT_OK


@memory_app.command()
def search(
    query: str,
    contact: Contact = None,
    table: Annotated[TableName, typer.Option("--table")] = TableName.episodic,
    limit: Annotated[int, typer.Option("--limit")] = 10,
    home: Home = None,
    config: Config = None,
    json: Json = False,
) -> int:
    """Hybrid search (vector + full text), as the drafter searches memory."""
    return _review(
        home,
        config,
        lambda r, m, _: r.search(m, query, contact=contact, table=table.value, limit=limit),
        json,
    )


@memory_app.command()
def facts(
    contact: Contact = None, home: Home = None, config: Config = None, json: Json = False
) -> int:
    """Consolidated facts, with kind, topic, status and source rows."""
    return _review(home, config, lambda r, m, _: r.facts(m, contact), json)


@memory_app.command()
def conflicts(home: Home = None, config: Config = None, json: Json = False) -> int:
    """Contested facts beside the fact they contradict."""
    return _review(home, config, lambda r, m, _: r.conflicts(m), json)


@memory_app.command()
def resolve(
    fact: str,
    keep: Annotated[Keep, typer.Option("--keep", help="new | old | both")],
    home: Home = None,
    config: Config = None,
    json: Json = False,
) -> int:
    """Settle a contested fact: new supersedes the old, old rejects the new, both keeps both."""
    return _review(home, config, lambda r, m, s: r.resolve(m, s, fact, keep.value), json)


def _conflict_lines(row: dict[str, Any]) -> str:
    old = row["contradicts"] or {}
    return (
        f"{row['fact']['fact_id']} contradicts {old.get('fact_id', '?')} "
        f"({row['fact']['contact']}, {row['fact']['topic']}):\n"
        f"  new: {row['fact']['text']}\n  old: {old.get('text', '(gone)')}"
    )


def _rows_table(rows: list[dict[str, Any]]) -> None:
    ui.print_table(
        f"{len(rows)} rows",
        ("id", "kind", "status", "contact", "topic or state", "text"),
        [
            (
                r.get("fact_id") or r.get("row_id"),
                r["kind"],
                r.get("status", ""),
                r["contact"],
                r.get("topic") or r.get("state"),
                " ".join(str(r["text"]).split())[:100],
            )
            for r in rows
        ],
    )
