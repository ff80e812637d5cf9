"""Engine creation and schema migration for the canonical store (SQLite now, Postgres by URL)."""

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).with_name("migrations")


# Compare-and-set reads the row count of INSERT .. ON CONFLICT DO NOTHING too, which
# SQLAlchemy keeps only when asked (otherwise -1 on psycopg).
_OPTIONS = {"preserve_rowcount": True}


def make_engine(url: str) -> sa.Engine:
    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_pre_ping=True, execution_options=_OPTIONS)
    engine = sa.create_engine(url, connect_args={"timeout": 60}, execution_options=_OPTIONS)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        # pysqlite's own transaction handling defers locks; we take them explicitly below.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        # FULL: each commit is on disk before it returns. NORMAL (in WAL mode) may lose the
        # last commits on power loss, and with them the ledger's `attempting` mark made
        # before a send: after the restart the message would go out a second time.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        # Reads are deferred: they take no lock and never wait (WAL gives them a snapshot).
        # Writes (`Store.tx`, flagged `store_write`) take the write lock at BEGIN. Not for
        # correctness -- every change is a compare-and-set in its SQL, as on Postgres -- but
        # because SQLite has one writer at a time, and a deferred transaction that read
        # before its first write cannot take the write lock once another writer committed
        # (SQLITE_BUSY_SNAPSHOT, which busy_timeout does not retry: "database is locked").
        # IMMEDIATE makes such a writer wait its turn instead.
        write = conn.get_execution_options().get("store_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def migrate(engine: sa.Engine) -> None:
    """Bring the schema to the newest revision (idempotent, safe on every start)."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as connection:
        connection.execution_options(store_write=True)
        with connection.begin():
            if connection.dialect.name == "postgresql":
                # Two processes starting at once: one migrates, the other then finds it done.
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(7247002)"))
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")
