"""Work items and their state machine (registration with duplicate detection, transitions
with their audit rows), and the intake batches that carry them."""

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from resources.store import schema as t
from resources.store.base import Row, StoreBase, insert, now_iso, serialise
from resources.store.states import (
    ALL_STATES,
    BATCH_PENDING,
    READY_TO_SEND,
    RESTING,
    check_transition,
)

DUPLICATE_WINDOW = dt.timedelta(minutes=10)


def _close_in_time(first: str | None, second: str | None) -> bool:
    """Within DUPLICATE_WINDOW of each other (two unknown times are no evidence of two
    messages; intake always knows one, from the Date header or the file's arrival)."""
    if first is None and second is None:
        return True
    try:
        a, b = dt.datetime.fromisoformat(first or ""), dt.datetime.fromisoformat(second or "")
    except ValueError:
        return False
    a, b = (x if x.tzinfo else x.replace(tzinfo=dt.UTC) for x in (a, b))
    return abs(a - b) <= DUPLICATE_WINDOW


def _chunks(ids: Sequence[str], size: int = 500) -> Iterator[list[str]]:
    """Well under every backend's bound-parameter limit."""
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


@dataclass(frozen=True)
class Registered:
    item_id: str
    state: str
    duplicate_of: str | None
    created: bool


class Items(StoreBase):
    def register(self, item: Row, *, batch: str | None, actor: str = "intake") -> Registered:
        """Insert a new work item; a re-registration of the same id is a no-op (crash replay).

        Duplicates (the same message: see `_find_original`) are recorded as such, pointing at
        the first item that carried them.
        """
        wi = t.work_items
        with self.tx() as conn:
            existing = self._registered(conn, item["id"])
            if existing:
                return existing
            state = item.get("state", "received")
            duplicate_of = None
            if state == "received":
                # Two copies of one message registered at once must not both see "no original".
                keys = [f"message_id:{item[k]}" for k in ("message_id",) if item.get(k)]
                keys += [f"content_hash:{item[k]}" for k in ("content_hash",) if item.get(k)]
                serialise(conn, *keys)
                duplicate_of = self._find_original(conn, item)
                if duplicate_of:
                    state = "duplicate"
            stamp = now_iso()
            values = {
                **item,
                "state": state,
                "duplicate_of": duplicate_of,
                "batch": batch,
                "created_at": stamp,
                "updated_at": stamp,
            }
            if duplicate_of:
                values.update(reason_code="duplicate", reason=f"same message as {duplicate_of}")
            inserted = conn.execute(
                insert(conn, wi).values(**values).on_conflict_do_nothing(index_elements=["id"])
            )
            if inserted.rowcount != 1:  # a racing replay registered it first
                registered = self._registered(conn, item["id"])
                if registered is None:
                    raise RuntimeError(f"work item {item['id']!r} conflicted but is not there")
                return registered
            self._audit(
                conn,
                item["id"],
                actor,
                "registered",
                {
                    "state": state,
                    "source": item.get("source"),
                    "batch": values["batch"],
                    "reason_code": values.get("reason_code"),
                    "duplicate_of": duplicate_of,
                },
            )
            return Registered(item["id"], state, duplicate_of, True)

    @staticmethod
    def _registered(conn: sa.Connection, item_id: str) -> Registered | None:
        wi = t.work_items
        row = conn.execute(
            sa.select(wi.c.state, wi.c.duplicate_of).where(wi.c.id == item_id)
        ).first()
        return Registered(item_id, row.state, row.duplicate_of, False) if row else None

    def _find_original(self, conn: sa.Connection, item: Row) -> str | None:
        """The first usable item that is the same message: the same Message-ID, or the same
        content key (intake's hash of sender, subject, text and attachments) received within
        DUPLICATE_WINDOW of it. A monthly mail with the same words is a new message."""
        wi = t.work_items
        usable = wi.c.state.notin_(("quarantined", "duplicate"))
        checks = []
        if item.get("message_id"):
            checks.append(wi.c.message_id == item["message_id"])
        if item.get("content_hash"):
            checks.append(wi.c.content_hash == item["content_hash"])
        if not checks:
            return None
        rows = conn.execute(
            sa.select(wi.c.id, wi.c.message_id, wi.c.received_at)
            .where(usable, sa.or_(*checks))
            .order_by(wi.c.created_at)
        ).all()
        for row in rows:
            if item.get("message_id") and row.message_id == item["message_id"]:
                return str(row.id)
            if _close_in_time(row.received_at, item.get("received_at")):
                return str(row.id)
        return None

    def create_batch(self, key: str, trigger: str, item_count: int) -> None:
        b = t.batches
        with self.tx() as conn:
            conn.execute(
                insert(conn, b)
                .values(key=key, trigger=trigger, item_count=item_count, created_at=now_iso())
                .on_conflict_do_nothing(index_elements=["key"])
            )

    def transition(
        self,
        item_id: str,
        target: str,
        *,
        actor: str,
        reason_code: str | None = None,
        reason: str | None = None,
        detail: dict[str, Any] | None = None,
        expect: Sequence[str] | None = None,
        **fields: Any,
    ) -> bool:
        """Move an item to `target`, with its audit record, atomically.

        With `expect`, the move only happens from one of those states (returns False otherwise):
        that is how two writers racing for one item settle who moves it. Without, an unknown
        item raises NoResultFound.
        """
        moved = self.transition_many(
            [item_id],
            expect,
            target,
            actor=actor,
            reason_code=reason_code,
            reason=reason,
            detail=detail,
            **fields,
        )
        if not moved and expect is None:
            raise sa.exc.NoResultFound(f"no work item {item_id!r}")
        return bool(moved)

    def transition_many(
        self,
        item_ids: Iterable[str],
        from_states: Iterable[str] | None,
        to_state: str,
        *,
        actor: str,
        reason_code: str | None = None,
        reason: str | None = None,
        detail: dict[str, Any] | None = None,
        **fields: Any,
    ) -> list[str]:
        """Move these items to `to_state` from any of `from_states` (None: from wherever they
        are), each with its audit record, all in one transaction; returns the ids that moved.

        Each move is a compare-and-set in SQL (`UPDATE .. WHERE id IN (..) AND state = :seen`),
        so of two writers racing for an item exactly one moves it; the row count says which.
        Items in none of `from_states` (or unknown) stay where they are. An item in an
        expected state that may not move to `to_state` raises IllegalTransition, and nothing
        moves.
        """
        if to_state not in ALL_STATES:
            raise ValueError(f"unknown state {to_state!r}")
        expected = None if from_states is None else set(from_states)
        ids = list(dict.fromkeys(item_ids))
        wi = t.work_items
        moved: dict[str, str] = {}  # id -> the state it moved from
        with self.tx() as conn:
            pending = set(ids)
            # Another round only for ids a concurrent writer moved between our read and our
            # update (Postgres; SQLite's write lock excludes it); each round re-reads them.
            for _round in range(len(ALL_STATES)):
                if not pending:
                    break
                groups: dict[str, list[str]] = {}
                for chunk in _chunks(sorted(pending)):
                    rows = conn.execute(
                        sa.select(wi.c.id, wi.c.state).where(wi.c.id.in_(chunk))
                    ).all()
                    pending.difference_update(set(chunk) - {r.id for r in rows})  # unknown
                    for row in rows:
                        if expected is not None and row.state not in expected:
                            pending.discard(row.id)
                            continue
                        check_transition(row.state, to_state)
                        groups.setdefault(row.state, []).append(row.id)
                stamp = now_iso()
                for seen, group in groups.items():
                    for chunk in _chunks(group):
                        result = conn.execute(
                            wi.update()
                            .where(wi.c.id.in_(chunk), wi.c.state == seen)
                            .values(
                                state=to_state,
                                reason_code=reason_code,
                                reason=reason,
                                updated_at=stamp,
                                **fields,
                            )
                            .returning(wi.c.id)
                        )
                        for (item_id,) in result:
                            moved[item_id] = seen
                            pending.discard(item_id)
            for item_id in ids:
                if item_id in moved:
                    self._audit(
                        conn,
                        item_id,
                        actor,
                        "state",
                        {
                            "from": moved[item_id],
                            "to": to_state,
                            "reason_code": reason_code,
                            **(detail or {}),
                        },
                    )
        return [i for i in ids if i in moved]

    def update_fields(self, item_id: str, **fields: Any) -> None:
        with self.tx() as conn:
            conn.execute(
                t.work_items.update()
                .where(t.work_items.c.id == item_id)
                .values(updated_at=now_iso(), **fields)
            )

    def get_item(self, item_id: str) -> Row | None:
        rows = self._all(t.work_items.select().where(t.work_items.c.id == item_id))
        return rows[0] if rows else None

    def items(self, *, batch: str | None = None, states: Iterable[str] | None = None) -> list[Row]:
        query = t.work_items.select()
        if batch is not None:
            query = query.where(t.work_items.c.batch == batch)
        if states is not None:
            query = query.where(t.work_items.c.state.in_(list(states)))
        return self._all(query.order_by(t.work_items.c.created_at, t.work_items.c.id))

    def state_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(ALL_STATES, 0)
        query = sa.select(t.work_items.c.state, sa.func.count()).group_by(t.work_items.c.state)
        with self.read() as conn:
            for state, count in conn.execute(query):
                counts[state] = count
        return counts

    def batch_keys(self, *, since: str | None = None) -> list[str]:
        """Every intake batch (created on or after `since`, an ISO date or time), oldest first."""
        query = sa.select(t.batches.c.key).order_by(t.batches.c.created_at)
        if since:
            query = query.where(t.batches.c.created_at >= since)
        with self.read() as conn:
            return [str(k) for k in conn.execute(query).scalars()]

    def pending_batches(self) -> list[Row]:
        """Batches that still hold items before the approval gate, oldest first."""
        wi = t.work_items
        query = (
            sa.select(t.batches)
            .where(
                t.batches.c.key.in_(
                    sa.select(wi.c.batch).where(wi.c.state.in_(BATCH_PENDING)).distinct()
                )
            )
            .order_by(t.batches.c.created_at)
        )
        return self._all(query)

    def bump_batch_attempt(self, key: str) -> None:
        with self.tx() as conn:
            conn.execute(
                t.batches.update()
                .where(t.batches.c.key == key)
                .values(attempt=t.batches.c.attempt + 1)
            )

    def ready_to_send(self) -> list[Row]:
        return self.items(states=READY_TO_SEND)

    def unremembered(self) -> list[Row]:
        wi = t.work_items
        query = wi.select().where(
            wi.c.state.in_(RESTING),
            sa.or_(wi.c.remembered_state.is_(None), wi.c.remembered_state != wi.c.state),
        )
        return self._all(query.order_by(wi.c.created_at))

    def earlier_items_from(self, sender: str, before: str) -> int:
        """Usable items from this sender registered before `before` (0 = first contact)."""
        wi = t.work_items
        query = sa.select(sa.func.count()).where(
            wi.c.sender == sender,
            wi.c.created_at < before,
            wi.c.state.notin_(("quarantined", "duplicate")),
        )
        with self.read() as conn:
            return int(conn.execute(query).scalar_one())
