"""What every part of the store shares: the engine, its transactions, the audit-row writer,
the dialect's INSERT (for ON CONFLICT) and timestamps. Holds no table of its own."""

import datetime as dt
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from resources.store import schema as t

Row = dict[str, Any]


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()


def insert(conn: sa.Connection, table: sa.Table) -> Any:
    """The dialect's INSERT, which has `on_conflict_do_nothing` / `on_conflict_do_update`."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"the store needs INSERT .. ON CONFLICT ({conn.dialect.name})")


def serialise(conn: sa.Connection, *keys: str) -> None:
    """Make transactions that name one of these keys run one after the other, for a check
    no row lock can cover (a sum over rows, "is there already an item like this one").
    Postgres: transaction-scoped advisory locks, released at commit. SQLite: nothing to do,
    the write transaction already holds the database's only write lock."""
    if conn.dialect.name != "postgresql":
        return
    for key in sorted(set(keys)):  # one order for everyone: no deadlock between two keys
        number = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": number})


class StoreBase:
    """The engine and its transactions; every mixin of the Store builds on these."""

    engine: sa.Engine

    @contextmanager
    def tx(self) -> Iterator[sa.Connection]:
        """A write transaction (on SQLite it takes the write lock at BEGIN: see engine.py)."""
        with self.engine.connect() as conn:
            conn.execution_options(store_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A read-only transaction (deferred on SQLite: readers never wait for writers)."""
        with self.engine.connect() as conn:
            yield conn

    def _all(self, query: sa.Select[Any]) -> list[Row]:
        with self.read() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def _audit(
        self,
        conn: sa.Connection,
        item_id: str | None,
        actor: str,
        event: str,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """An audit row, inside the caller's transaction: the change and its record commit
        together or not at all."""
        conn.execute(
            t.audit_log.insert().values(
                at=now_iso(), item_id=item_id, actor=actor, event=event, detail=detail or {}
            )
        )
