"""Erasing a contact: their items and every row that holds or quotes their words (the
audit log, which holds ids and codes only, stays)."""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from resources.store import schema as t
from resources.store.base import Row
from resources.store.memory_records import MemoryRecords

# The proposals workflow's tables (migration 0009; defined beside their queries in
# resources/store/proposals.py, which imports the Store and so cannot be imported here).
_PROPOSAL_TABLES = {
    name: sa.table(name, sa.column("item_id"))
    for name in ("proposal_checks", "proposal_versions", "proposal_plan_steps")
}
_TABLE_NAMES = {*t.metadata.tables, *_PROPOSAL_TABLES}


def stored_forms(text: str) -> set[str]:
    """A text as it may sit in a JSON column: itself, JSON-escaped once (a prompt) and twice
    (a model's JSON answer inside the stored response)."""
    once = json.dumps(text.lower())[1:-1]
    return {text.lower(), once, json.dumps(once)[1:-1]}


class Erase(MemoryRecords):
    def items_of_contact(self, email: str) -> list[Row]:
        """Every item from, replying to, or answered at this address (case-insensitive)."""
        wi, d = t.work_items, t.deliveries
        address = email.lower()
        answered = sa.select(d.c.item_id).where(sa.func.lower(d.c.destination) == address)
        return self._all(
            wi.select()
            .where(
                sa.or_(
                    sa.func.lower(wi.c.sender) == address,
                    sa.func.lower(wi.c.reply_to) == address,
                    wi.c.id.in_(answered),
                )
            )
            .order_by(wi.c.created_at)
        )

    def erase_items(
        self, item_ids: list[str], email: str, quoting: Sequence[str] = ()
    ) -> dict[str, int]:
        """Delete everything the store holds about these items and this contact, except the
        append-only audit log (which holds ids and codes, never text), then compact the file
        so the deleted pages are gone from disk too. `quoting`: texts of theirs that other
        items' prompts may have carried (shared memory): those ledger rows and failure
        records go too, so the contact's words survive nowhere."""
        address = email.lower()
        counts: dict[str, int] = {}
        with self.tx() as conn:
            for name, table, condition in (
                ("call_uses", t.call_uses, t.call_uses.c.item_id.in_(item_ids)),
                # The ledger's prompts and answers quote the mail: the paid call goes (its
                # spend stays counted in budget_reservations, which holds no text).
                ("model_calls", t.model_calls, t.model_calls.c.item_id.in_(item_ids)),
                ("agent_outputs", t.agent_outputs, t.agent_outputs.c.item_id.in_(item_ids)),
                ("failures", t.failures, t.failures.c.item_id.in_(item_ids)),
                ("approvals", t.approvals, t.approvals.c.item_id.in_(item_ids)),
                ("deliveries", t.deliveries, t.deliveries.c.item_id.in_(item_ids)),
                ("deals", t.deals, sa.func.lower(t.deals.c.contact_email) == address),
                ("contacts", t.contacts, sa.func.lower(t.contacts.c.email) == address),
                ("work_items", t.work_items, t.work_items.c.id.in_(item_ids)),
                # A lead's plan, proposal versions and verifier rows quote the lead.
                *(
                    (name, table, table.c.item_id.in_(item_ids))
                    for name, table in _PROPOSAL_TABLES.items()
                ),
            ):
                counts[name] = conn.execute(table.delete().where(condition)).rowcount
            counts.update(self.forget_memory_records(conn, item_ids, email))
            counts.update(self._erase_quoting(conn, list(quoting)))
            # What was erased, never what it said: counts only, no address, no text.
            self._audit(conn, None, "privacy", "erased", {"items": len(item_ids), **counts})
        if self.engine.dialect.name == "postgresql":
            self._rewrite_postgres_tables([name for name, count in counts.items() if count])
        if self.engine.dialect.name == "sqlite" and self.engine.url.database:
            import sqlite3

            # Outside SQLAlchemy: its connections always open a transaction, VACUUM cannot run
            # inside one.
            self.engine.dispose()
            raw = sqlite3.connect(self.engine.url.database, isolation_level=None)
            try:
                raw.execute("VACUUM")
                raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                raw.close()
        return counts

    def _rewrite_postgres_tables(self, touched: list[str]) -> None:
        """A DELETE on Postgres leaves the rows' bytes in the table's pages until they are
        reused; VACUUM FULL writes each touched table afresh, so the erased words leave the
        data files (as SQLite's VACUUM does for its file). It locks each table for the rewrite:
        an erase is rare and a solo operator's tables are small. (The server's write-ahead log
        keeps the words until it recycles its segments.)"""
        names = {"calls_quoting": "model_calls", "failures_quoting": "failures"}
        tables = sorted({names.get(name, name) for name in touched} & _TABLE_NAMES)
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in tables:
                conn.execute(sa.text(f'VACUUM FULL "{table}"'))

    def _erase_quoting(self, conn: sa.Connection, needles: list[str]) -> dict[str, int]:
        if not needles:
            return {"calls_quoting": 0, "failures_quoting": 0}
        mc, cu, f = t.model_calls, t.call_uses, t.failures

        def quotes(*columns: Any) -> Any:
            return sa.or_(
                *(
                    sa.func.lower(sa.cast(column, sa.Text)).contains(form, autoescape=True)
                    for column in columns
                    for needle in needles
                    for form in stored_forms(needle)
                )
            )

        hashes = [
            h
            for (h,) in conn.execute(
                sa.select(mc.c.request_hash).where(quotes(mc.c.request, mc.c.response))
            )
        ]
        conn.execute(cu.delete().where(cu.c.request_hash.in_(hashes)))
        return {
            "calls_quoting": conn.execute(
                mc.delete().where(mc.c.request_hash.in_(hashes))
            ).rowcount,
            "failures_quoting": conn.execute(
                f.delete().where(quotes(f.c.input, f.c.output))
            ).rowcount,
        }
