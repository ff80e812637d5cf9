"""Controls (key → value set by an operator: the kill switch, connector back-offs) and the
named locks runs hold while they write memory or drain deliveries."""

from collections.abc import Callable

import sqlalchemy as sa

from resources.store import schema as t
from resources.store.base import Row, StoreBase, now_iso
from resources.store.states import RESTING


class Controls(StoreBase):
    def set_control(self, key: str, value: str, *, actor: str) -> None:
        c = t.controls
        with self.tx() as conn:
            conn.execute(c.delete().where(c.c.key == key))
            conn.execute(c.insert().values(key=key, value=value, actor=actor, at=now_iso()))
            self._audit(conn, None, actor, f"control_{key}", {"value": value})

    def control(self, key: str) -> Row | None:
        rows = self._all(t.controls.select().where(t.controls.c.key == key))
        return rows[0] if rows else None

    def kill_switch_on(self) -> bool:
        row = self.control("kill_switch")
        return bool(row and row["value"] == "on")

    def in_flight_count(self) -> int:
        query = sa.select(sa.func.count()).where(t.work_items.c.state.notin_(RESTING))
        with self.read() as conn:
            return int(conn.execute(query).scalar_one())

    def acquire_lock(self, name: str, owner: str, is_stale: Callable[[str], bool]) -> bool:
        """Take a named lock unless a live owner holds it (`is_stale(owner)` says it is dead)."""
        c, key = t.controls, f"lock:{name}"
        with self.tx() as conn:
            holder = conn.execute(sa.select(c.c.value).where(c.c.key == key)).scalar()
            if holder and holder != owner and not is_stale(holder):
                return False
            conn.execute(c.delete().where(c.c.key == key))
            conn.execute(c.insert().values(key=key, value=owner, actor=owner, at=now_iso()))
            return True

    def release_lock(self, name: str, owner: str) -> None:
        c = t.controls
        with self.tx() as conn:
            conn.execute(c.delete().where(c.c.key == f"lock:{name}", c.c.value == owner))
