"""The store's records for the memory layer: which memory rows each item's prompts carried
(chosen once, reused on every re-run) and which episodic rows the archivist has read."""

from collections.abc import Iterable

import sqlalchemy as sa

from resources.store import schema as t
from resources.store.base import Row, StoreBase, insert


class MemoryRecords(StoreBase):
    def memory_context(self, item_id: str, agent: str) -> Row | None:
        mc = t.memory_context
        rows = self._all(mc.select().where(mc.c.item_id == item_id, mc.c.agent == agent))
        return rows[0] if rows else None

    def save_memory_context(self, row: Row) -> Row:
        """Keep the first choice: a second writer (a racing re-run) gets the one on record."""
        mc = t.memory_context
        with self.tx() as conn:
            inserted = conn.execute(
                insert(conn, mc)
                .values(**row)
                .on_conflict_do_nothing(index_elements=["item_id", "agent"])
            )
            if inserted.rowcount == 1:
                return row
            found = conn.execute(
                mc.select().where(mc.c.item_id == row["item_id"], mc.c.agent == row["agent"])
            )
            return dict(found.mappings().one())

    def memory_contexts(self, item_ids: Iterable[str] | None = None) -> list[Row]:
        mc = t.memory_context
        query = mc.select()
        if item_ids is not None:
            query = query.where(mc.c.item_id.in_(list(item_ids)))
        return self._all(query.order_by(mc.c.at))

    def archived_row_ids(self) -> set[str]:
        return {r["row_id"] for r in self._all(sa.select(t.memory_archived.c.row_id))}

    def mark_archived(self, rows: Iterable[Row]) -> int:
        """Record consolidated episodic rows (each once)."""
        ma = t.memory_archived
        count = 0
        with self.tx() as conn:
            for row in rows:
                inserted = conn.execute(
                    insert(conn, ma).values(**row).on_conflict_do_nothing(index_elements=["row_id"])
                )
                count += inserted.rowcount
        return count

    def forget_memory_records(self, conn: sa.Connection, item_ids: list[str], email: str) -> Row:
        """Inside an erase's transaction: the contact's contexts and archive marks."""
        mc, ma = t.memory_context, t.memory_archived
        prefixes = [ma.c.row_id.like(f"{i}:%") for i in item_ids]
        return {
            "memory_context": conn.execute(mc.delete().where(mc.c.item_id.in_(item_ids))).rowcount,
            "memory_archived": conn.execute(
                ma.delete().where(sa.or_(sa.func.lower(ma.c.contact) == email.lower(), *prefixes))
            ).rowcount,
        }
