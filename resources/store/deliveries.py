"""The delivery ledger: one intent per (item, destination, purpose), its attempts counted by
compare-and-set, its outcome; and the tombstones that block sends to erased contacts."""

import email.utils
import hashlib
from collections.abc import Sequence

import sqlalchemy as sa

from resources.store import schema as t
from resources.store.base import Row, StoreBase, insert, now_iso

# The purpose of the owner's digest (ops_assets/observability/notifications.py): mail to the
# owner, never evidence of a client's address.
OWNER_DIGEST = "digest"


class ContactErased(Exception):
    """The destination's contact was erased: nothing more is sent to them."""


class Deliveries(StoreBase):
    def delivered_to_domain(self, domain: str) -> bool:
        """A confirmed delivery to an address whose domain part is exactly `domain`. No LIKE:
        `_` and `%` in a sender's domain would match real clients' domains. Only ASCII is
        case-folded (Python's lower() turns a Kelvin sign into a Latin k)."""
        d = t.deliveries
        folded = "".join(c.lower() if c.isascii() else c for c in domain.strip())
        if not folded or "@" in folded:
            return False
        suffix = f"@{folded}"
        tail = sa.func.substr(d.c.destination, sa.func.length(d.c.destination) - len(suffix) + 1)
        query = sa.select(sa.func.count()).where(
            d.c.state == "confirmed",
            d.c.purpose != OWNER_DIGEST,  # the owner's own digest is no client we replied to
            sa.func.lower(tail) == suffix,
        )
        with self.read() as conn:
            return bool(conn.execute(query).scalar_one())

    def delivery_intent(self, row: Row) -> Row:
        """Record the intent to deliver, once per (item, destination, purpose); return the row
        (the first one recorded, when two writers race)."""
        d = t.deliveries
        with self.tx() as conn:
            stamp = now_iso()
            values = {
                **row,
                "state": "intent",
                "attempts": 0,
                "created_at": stamp,
                "updated_at": stamp,
            }
            inserted = conn.execute(
                insert(conn, d)
                .values(**values)
                .on_conflict_do_nothing(index_elements=["item_id", "destination", "purpose"])
            )
            if inserted.rowcount != 1:
                found = (
                    conn.execute(
                        d.select().where(
                            d.c.item_id == row["item_id"],
                            d.c.destination == row["destination"],
                            d.c.purpose == row["purpose"],
                        )
                    )
                    .mappings()
                    .one()
                )
                return dict(found)
            self._audit(
                conn,
                row["item_id"],
                "delivery",
                "delivery_intent",
                {
                    "delivery_id": row["id"],
                    "connector": row["connector"],
                    "purpose": row["purpose"],
                },
            )
            return values

    def delivery_mark(
        self,
        delivery_id: str,
        state: str,
        *,
        receipt: str | None = None,
        expect: Sequence[str] | None = None,
    ) -> bool:
        """Move a delivery to `state` with its audit record. `receipt` is a code or an id (a
        server's text quotes the recipient and would outlive an erase in the audit log).
        With `expect`, only from those states (compare-and-set); returns whether it moved."""
        d = t.deliveries
        with self.tx() as conn:
            values: Row = {"state": state, "updated_at": now_iso()}
            if receipt is not None:
                values["receipt"] = receipt
            query = d.update().where(d.c.id == delivery_id)
            if expect is not None:
                query = query.where(d.c.state.in_(list(expect)))
            item_id = conn.execute(query.values(**values).returning(d.c.item_id)).scalar()
            if item_id is None:
                if expect is None:
                    raise sa.exc.NoResultFound(f"no delivery {delivery_id!r}")
                return False
            self._audit(
                conn,
                item_id,
                "delivery",
                f"delivery_{state}",
                {"delivery_id": delivery_id, "receipt": receipt},
            )
            return True

    @staticmethod
    def _delivery_tombstone(destination: str) -> str:
        """The controls key that blocks sends to an erased address: a hash, never the address."""
        address = (email.utils.parseaddr(destination)[1] or destination).strip().lower()
        return f"erased:{hashlib.sha256(address.encode()).hexdigest()}"

    def delivery_block_contact(self, email: str) -> None:
        """From now on nothing is sent to this address (an erase): checked by every attempt."""
        c, key = t.controls, self._delivery_tombstone(email)
        with self.tx() as conn:
            blocked = conn.execute(
                insert(conn, c)
                .values(key=key, value="erased", actor="privacy", at=now_iso())
                .on_conflict_do_nothing(index_elements=["key"])
            )
            if blocked.rowcount == 1:
                self._audit(conn, None, "privacy", "delivery_blocked", {})

    def delivery_content(self, delivery_id: str, content_hash: str) -> None:
        """The body to send changed before anything went out (a new approval): the ledger
        records what is sent now."""
        d = t.deliveries
        with self.tx() as conn:
            item_id = conn.execute(
                d.update()
                .where(d.c.id == delivery_id)
                .values(content_hash=content_hash, updated_at=now_iso())
                .returning(d.c.item_id)
            ).scalar_one()
            self._audit(conn, item_id, "delivery", "delivery_content", {"delivery_id": delivery_id})

    def delivery_attempt(self, delivery_id: str, seen_attempts: int) -> bool:
        """Count a send attempt, compare-and-set: of two drains only one may send. Raises
        ContactErased when the destination's contact was erased: the tombstone is checked in
        the counting UPDATE's own WHERE, so an erase committed before this attempt always
        wins."""
        d, c = t.deliveries, t.controls
        with self.tx() as conn:
            destination = conn.execute(  # never changes once recorded
                sa.select(d.c.destination).where(d.c.id == delivery_id)
            ).scalar_one()
            tombstone = self._delivery_tombstone(destination)
            erased = sa.select(c.c.key).where(c.c.key == tombstone).exists()
            item_id = conn.execute(
                d.update()
                .where(d.c.id == delivery_id, d.c.attempts == seen_attempts, ~erased)
                # "attempting" until the send's outcome is recorded: a crash leaves it there,
                # and the next drain asks instead of sending again.
                .values(attempts=seen_attempts + 1, state="attempting", updated_at=now_iso())
                .returning(d.c.item_id)
            ).scalar()
            if item_id is None:
                if conn.execute(sa.select(erased)).scalar():
                    raise ContactErased(delivery_id)
                return False
            self._audit(
                conn,
                item_id,
                "delivery",
                "delivery_attempt",
                {"delivery_id": delivery_id, "attempt": seen_attempts + 1},
            )
            return True

    def sends_since(self, connector: str, since: str) -> int:
        """Deliveries through a connector that were attempted at or after `since` (for its
        rate limit): every attempt counts, sent or not."""
        d = t.deliveries
        query = sa.select(sa.func.count()).where(
            d.c.connector == connector, d.c.attempts > 0, d.c.updated_at >= since
        )
        with self.read() as conn:
            return int(conn.execute(query).scalar_one())

    def open_deliveries(self, purpose: str) -> list[Row]:
        """Deliveries of a purpose that are neither confirmed nor failed, oldest first."""
        d = t.deliveries
        return self._all(
            d.select()
            .where(d.c.purpose == purpose, d.c.state.not_in(("confirmed", "failed")))
            .order_by(d.c.created_at)
        )

    def deliveries_for(self, item_id: str) -> list[Row]:
        return self._all(
            t.deliveries.select()
            .where(t.deliveries.c.item_id == item_id)
            .order_by(t.deliveries.c.created_at)
        )

    def all_deliveries(self) -> list[Row]:
        return self._all(t.deliveries.select().order_by(t.deliveries.c.created_at))
