"""The CRM: contacts and deals, kept by the crm executor from triage and delivery outcomes."""

from resources.store import schema as t
from resources.store.base import Row, StoreBase, insert, now_iso


class Crm(StoreBase):
    def upsert_contact(self, contact: Row, *, actor: str = "crm") -> bool:
        """Create or update a contact; True (and an audit row) when anything changed. A new
        contact is an INSERT that does nothing on conflict; a known one is read under its row
        lock (Postgres; SQLite's write transaction excludes other writers), so two writers
        cannot both compute their changes from the same old row."""
        c = t.contacts
        with self.tx() as conn:
            created = conn.execute(
                insert(conn, c)
                .values(**contact, updated_at=now_iso())
                .on_conflict_do_nothing(index_elements=["email"])
            )
            if created.rowcount == 1:
                changes = dict(contact)
            else:
                found = (
                    conn.execute(c.select().where(c.c.email == contact["email"]).with_for_update())
                    .mappings()
                    .one()
                )
                changes = {k: v for k, v in contact.items() if found[k] != v}
                if not changes:
                    return False
                conn.execute(
                    c.update()
                    .where(c.c.email == contact["email"])
                    .values(**changes, updated_at=now_iso())
                )
            self._audit(conn, None, actor, "contact_updated", {"fields": sorted(changes)})
            return True

    def upsert_deal(self, deal: Row, *, actor: str = "crm") -> bool:
        """Create a deal for its source item, or move its stage; True when anything changed.
        Both are compare-and-set: an INSERT that does nothing on conflict, an UPDATE only
        where the stage differs."""
        d = t.deals
        with self.tx() as conn:
            stamp = now_iso()
            changed = conn.execute(
                insert(conn, d)
                .values(**deal, created_at=stamp, updated_at=stamp)
                .on_conflict_do_nothing(index_elements=["source_item_id"])
            ).rowcount
            if changed != 1:
                changed = conn.execute(
                    d.update()
                    .where(d.c.source_item_id == deal["source_item_id"], d.c.stage != deal["stage"])
                    .values(stage=deal["stage"], updated_at=stamp)
                ).rowcount
            if changed != 1:
                return False
            self._audit(
                conn,
                deal["source_item_id"],
                actor,
                "deal_updated",
                {"deal": deal["id"], "stage": deal["stage"]},
            )
            return True

    def contacts(self) -> list[Row]:
        return self._all(t.contacts.select().order_by(t.contacts.c.last_seen.desc()))

    def deals(self) -> list[Row]:
        return self._all(t.deals.select().order_by(t.deals.c.created_at))
