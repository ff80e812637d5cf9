"""The `memory` resource: LanceDB episodic memory on local disk, full-text searchable.

Vectors come with the memory issue; for now every row carries its provenance and text, and a
native full-text index (offline, no tantivy). LanceDB is imported lazily: every Dagster run
re-imports the code location and lancedb costs about a second.
"""

from pathlib import Path
from typing import Any

import dagster as dg

from resources.settings import SettingsResource

EPISODIC = "episodic"


class EpisodicMemory:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _db(self) -> Any:
        import lancedb

        return lancedb.connect(str(self.folder))

    def _table(self, db: Any) -> Any | None:
        return db.open_table(EPISODIC) if EPISODIC in db.list_tables().tables else None

    def upsert(self, rows: list[dict[str, Any]]) -> int:
        """Insert or replace rows by `row_id`, in one version; rebuild the text index."""
        if not rows:
            return 0
        from lancedb.index import FTS

        db = self._db()
        table = self._table(db)
        if table is None:
            table = db.create_table(EPISODIC, data=rows)
        else:
            (
                table.merge_insert("row_id")
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .execute(rows)
            )
        table.create_index("text", config=FTS(), replace=True)
        return len(rows)

    def search(self, text: str, *, limit: int = 5) -> list[dict[str, Any]]:
        table = self._table(self._db())
        if table is None:
            return []
        return list(table.search(text, query_type="fts").limit(limit).to_list())

    def rows(self) -> list[dict[str, Any]]:
        table = self._table(self._db())
        return [] if table is None else list(table.to_arrow().to_pylist())

    def forget(self, *, contact: str, item_ids: list[str]) -> int:
        """Delete a contact's rows, then every older table version that still holds them, and
        rebuild the text index: afterwards no file under the table has them."""
        import datetime as dt
        import warnings

        from lancedb.index import FTS

        table = self._table(self._db())
        if table is None:
            return 0
        before = table.count_rows()
        quoted = ", ".join("'" + i.replace("'", "''") + "'" for i in item_ids) or "''"
        address = contact.lower().replace("'", "''")
        table.delete(f"lower(contact) = '{address}' OR item_id IN ({quoted})")
        removed = before - table.count_rows()
        with warnings.catch_warnings():
            # Dropping every older version is the point of an erase (LanceDB warns that a
            # concurrent reader of an old version would fail; erase is an operator action).
            warnings.filterwarnings("ignore", message=r"optimize\(cleanup_older_than=0\)")
            table.optimize(cleanup_older_than=dt.timedelta(seconds=0), delete_unverified=True)
            if table.count_rows():
                table.create_index("text", config=FTS(), replace=True)
            table.optimize(cleanup_older_than=dt.timedelta(seconds=0), delete_unverified=True)
        return removed


class MemoryResource(dg.ConfigurableResource):
    """Episodic memory under `<home>/memory`."""

    settings: SettingsResource

    def episodic(self) -> EpisodicMemory:
        return EpisodicMemory(self.settings.home_dir().memory)
