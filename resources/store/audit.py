"""The append-only audit log: records written on their own, and its readers. (Every other
module writes its audit rows inside its own transactions, through `StoreBase._audit`.)"""

from collections.abc import Sequence
from typing import Any

from resources.store import schema as t
from resources.store.base import Row, StoreBase


class AuditLog(StoreBase):
    def audit(
        self, item_id: str | None, actor: str, event: str, detail: dict[str, Any] | None = None
    ) -> None:
        with self.tx() as conn:
            self._audit(conn, item_id, actor, event, detail)

    def audit_many(self, actor: str, event: str, details: Sequence[tuple[str, Row]]) -> None:
        """One audit record per (item, detail), in one transaction."""
        with self.tx() as conn:
            for item_id, detail in details:
                self._audit(conn, item_id, actor, event, detail)

    def audit_for_event(self, event: str) -> list[Row]:
        query = t.audit_log.select().where(t.audit_log.c.event == event)
        return self._all(query.order_by(t.audit_log.c.id))

    def audit_for(self, item_id: str) -> list[Row]:
        query = t.audit_log.select().where(t.audit_log.c.item_id == item_id)
        return self._all(query.order_by(t.audit_log.c.id))

    def audit_of_items(
        self, item_ids: Sequence[str], events: Sequence[str]
    ) -> dict[str, list[Row]]:
        """These events of these items, oldest first, per item (deferral schedules read the
        state changes and the schedules of every deferred item at once)."""
        found: dict[str, list[Row]] = {i: [] for i in item_ids}
        ids = list(item_ids)
        for start in range(0, len(ids), 500):  # well under every backend's bound-parameter limit
            query = t.audit_log.select().where(
                t.audit_log.c.item_id.in_(ids[start : start + 500]),
                t.audit_log.c.event.in_(list(events)),
            )
            for row in self._all(query.order_by(t.audit_log.c.id)):
                found[row["item_id"]].append(row)
        return found
