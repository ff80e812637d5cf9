"""The CRM: contacts and deals, kept by the crm executor from triage and delivery outcomes."""

from resources.store import schema as t
from resources.store.base import Row, StoreBase, now_iso


class Crm(StoreBase):
    def upsert_contact(self, contact: Row, *, actor: str = "crm") -> bool:
        """Create or update a contact; True (and an audit row) when anything changed."""
        c = t.contacts
        with self.tx() as conn:
            found = conn.execute(c.select().where(c.c.email == contact["email"])).mappings().first()
            if found is not None:
                changes = {k: v for k, v in contact.items() if found[k] != v}
                if not changes:
                    return False
                conn.execute(
                    c.update()
                    .where(c.c.email == contact["email"])
                    .values(**changes, updated_at=now_iso())
                )
            else:
                conn.execute(c.insert().values(**contact, updated_at=now_iso()))
                changes = dict(contact)
            self._audit(conn, None, actor, "contact_updated", {"fields": sorted(changes)})
            return True

    def upsert_deal(self, deal: Row, *, actor: str = "crm") -> bool:
        """Create a deal for its source item, or move its stage; True when anything changed."""
        d = t.deals
        with self.tx() as conn:
            found = (
                conn.execute(d.select().where(d.c.source_item_id == deal["source_item_id"]))
                .mappings()
                .first()
            )
            stamp = now_iso()
            if found is None:
                conn.execute(d.insert().values(**deal, created_at=stamp, updated_at=stamp))
            elif found["stage"] != deal["stage"]:
                conn.execute(
                    d.update()
                    .where(d.c.id == found["id"])
                    .values(stage=deal["stage"], updated_at=stamp)
                )
            else:
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
