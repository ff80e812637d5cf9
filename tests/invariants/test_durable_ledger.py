"""A power cut loses nothing the ledger said: every commit of the SQLite store reaches the disk
before the side effect it precedes (synchronous=FULL; NORMAL in WAL mode may drop the last
commits on power loss, and with them an `attempting` mark made before a send)."""

from resources.store import Store


def test_every_store_commit_is_synced_to_disk(tmp_path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    finally:
        store.close()
