"""What the store knows of mail that refers back to what we sent: bounces and auto-replies
linked to their delivery, addresses a hard bounce made undeliverable, and replies copied into
the owner's own mailbox (Sent or Drafts) once.

All of it lives in the `controls` table (key -> JSON value), one row per fact, written with
its audit record in one transaction; keys carry hashes or ids, never an address. No new
table: the schema is being split in parallel, and these facts are few and looked up by key."""

import email.utils
import hashlib
import json
import re
from typing import Any, Literal, TypedDict

import sqlalchemy as sa

from resources.store import schema as t
from resources.store.base import insert
from resources.store.store import Store, now_iso

LinkKind = Literal["hard_bounce", "soft_failure", "auto_reply"]
ACTOR = "mailbox_links"


class Link(TypedDict):
    delivery_id: str
    item_id: str
    kind: LinkKind
    status: str | None


class MailboxCopy(TypedDict):
    folder: str
    reference: str


def _address_hash(address: str) -> str:
    bare = (email.utils.parseaddr(address)[1] or address).strip().lower()
    return hashlib.sha256(bare.encode()).hexdigest()


def _put_once(
    store: Store, key: str, value: dict[str, Any], event: str, item_id: str | None
) -> bool:
    """Insert `key` unless it is there; its audit record with it. Whether it was new."""
    c = t.controls
    with store.tx() as conn:
        stamp = now_iso()
        added = conn.execute(
            insert(conn, c)
            .values(key=key, value=json.dumps(value), actor=ACTOR, at=stamp)
            .on_conflict_do_nothing(index_elements=[c.c.key])
        ).rowcount
        if not added:
            return False
        conn.execute(
            t.audit_log.insert().values(
                at=stamp, item_id=item_id, actor=ACTOR, event=event, detail=value
            )
        )
        return True


def _get(store: Store, key: str) -> dict[str, Any] | None:
    row = store.control(key)
    if row is None:
        return None
    try:
        value = json.loads(row["value"])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def delivery(store: Store, delivery_id: str) -> dict[str, Any] | None:
    d = t.deliveries
    with store.engine.connect() as conn:
        row = conn.execute(d.select().where(d.c.id == delivery_id)).mappings().first()
    return dict(row) if row else None


# Our Message-IDs are `<delivery id @ our domain>` (every composer: replies, proposals).
_OUR_ID = re.compile(r"<?(dlv_[0-9a-f]{20})@[^<>\s]+")


def answered_delivery(store: Store, item: dict[str, Any]) -> dict[str, Any] | None:
    """The delivery of ours this mail answers on its thread (In-Reply-To first, then the
    newest References), or None: how a workflow knows a client's mail answers what it sent."""
    named = [item.get("in_reply_to") or "", *reversed(item.get("references") or [])]
    for text in named:
        for found in _OUR_ID.findall(str(text)):
            row = delivery(store, found)
            if row is not None:
                return row
    return None


def record_link(store: Store, mail_item_id: str, link: Link) -> bool:
    """Link the incoming mail `mail_item_id` to a delivery, once; whether it is new."""
    return _put_once(
        store,
        f"mail_link:{mail_item_id}",
        dict(link),
        f"mail_linked_{link['kind']}",
        link["item_id"],
    )


def link_of(store: Store, mail_item_id: str) -> Link | None:
    value = _get(store, f"mail_link:{mail_item_id}")
    return Link(**value) if value else None  # type: ignore[typeddict-item]


def mark_undeliverable(store: Store, address: str, *, delivery_id: str, status: str | None) -> bool:
    """From now on replies to this address are held for the owner (a hard bounce said so)."""
    value = {"delivery_id": delivery_id, "status": status}
    return _put_once(
        store, f"undeliverable:{_address_hash(address)}", value, "address_undeliverable", None
    )


def undeliverable(store: Store, address: str) -> dict[str, Any] | None:
    """Why this address is undeliverable (the bounce's delivery and status), or None."""
    return _get(store, f"undeliverable:{_address_hash(address)}")


def clear_undeliverable(store: Store, address: str) -> None:
    """The owner says the address works again."""
    c, key = t.controls, f"undeliverable:{_address_hash(address)}"
    with store.tx() as conn:
        conn.execute(c.delete().where(c.c.key == key))
        conn.execute(
            t.audit_log.insert().values(
                at=now_iso(), item_id=None, actor=ACTOR, event="address_deliverable", detail={}
            )
        )


def record_copy(store: Store, delivery_id: str, copy: MailboxCopy) -> bool:
    """The reply of `delivery_id` is in the owner's mailbox (Sent or Drafts); once."""
    row = delivery(store, delivery_id)
    item_id = row["item_id"] if row else None
    return _put_once(store, f"mailbox_copy:{delivery_id}", dict(copy), "mailbox_copied", item_id)


def copy_of(store: Store, delivery_id: str) -> MailboxCopy | None:
    value = _get(store, f"mailbox_copy:{delivery_id}")
    return MailboxCopy(**value) if value else None  # type: ignore[typeddict-item]


def want_copy(store: Store, delivery_id: str) -> None:
    """This delivery's reply is to be filed in the owner's mailbox (set when it is sent)."""
    row = delivery(store, delivery_id)
    item_id = row["item_id"] if row else None
    _put_once(store, f"mailbox_copy_wanted:{delivery_id}", {}, "mailbox_copy_wanted", item_id)


def wanted_copies(store: Store) -> list[str]:
    """Deliveries whose reply is to be filed and is not yet, oldest first."""
    c = t.controls
    prefix = "mailbox_copy_wanted:"
    with store.engine.connect() as conn:
        wanted = conn.execute(
            sa.select(c.c.key).where(c.c.key.like(f"{prefix}%")).order_by(c.c.at)
        ).scalars()
        keys = [str(k)[len(prefix) :] for k in wanted]
        done = set(
            conn.execute(
                sa.select(c.c.key).where(c.c.key.in_([f"mailbox_copy:{k}" for k in keys]))
            ).scalars()
        )
    return [k for k in keys if f"mailbox_copy:{k}" not in done]
