"""The owner's word on past items, read from what the store already keeps: labels for the
triage classifier and examples for few-shot prompts.

No table of its own (no migration): a re-categorisation is an `agent_outputs` row of asset
`triage_label` (its output: the category, the one before, who said so) beside an audit row; a
reply the owner wrote themselves is an approval with note `owner_reply` (the reply in the
review row, `ops_assets/governance/owner_reply.py`) or an `agent_outputs` row of asset
`owner_reply` (output `body`); approvals, edits and rejections are the `approvals` rows the
gate and the controls write. Each label says where it came from (`source`, `ref`, `actor`, `at`).

What counts as a confirmed category: the owner's re-categorisation first; else the category
the item had when the owner approved (or edited, or wrote) its reply. A rejection says the
reply was wrong, not the category: it is a label without a category.
"""

from typing import Any, Literal, TypedDict

import sqlalchemy as sa

from resources.store import schema as t
from resources.store.store import Row, Store

LABEL_ASSET = "triage_label"
OWNER_REPLY_ASSET = "owner_reply"
# Approval actors that are code, not the owner: a policy auto-approval confirms nothing.
NOT_THE_OWNER = ("gate", "policy", "approval_gate")

Source = Literal["recategorized", "approved", "edited", "rejected", "owner_reply"]


class Label(TypedDict):
    item_id: str
    source: Source
    category: str | None
    """The confirmed category, None when the label says nothing about it (a rejection)."""
    reply: str | None
    """The reply the owner approved (as sent, edits included) or wrote, else None."""
    actor: str
    at: str
    ref: str
    """Where it is kept: "approvals:<id>" or "agent_outputs:<item_id>/<asset>"."""
    subject: str
    body: str
    sender: str


def labels(store: Store) -> list[Label]:
    """Every label, oldest first; one per item (the owner's latest word on it wins)."""
    outputs = _rows(
        store,
        t.agent_outputs.select().where(
            t.agent_outputs.c.asset.in_([LABEL_ASSET, OWNER_REPLY_ASSET, "review", "reply_draft"])
        ),
    )
    by_item: dict[str, dict[str, Row]] = {}
    for row in outputs:
        by_item.setdefault(row["item_id"], {})[row["asset"]] = row
    approvals = _rows(store, t.approvals.select().order_by(t.approvals.c.id))
    found: dict[str, Label] = {}
    for approval in approvals:
        if approval["actor"] in NOT_THE_OWNER or approval["policy"] not in ("operator", "owner"):
            continue
        if approval["decision"] == "approved":
            notes: dict[str | None, Source] = {"edited": "edited", "owner_reply": "owner_reply"}
            source: Source = notes.get(approval["note"], "approved")
        elif approval["decision"] == "rejected":
            source = "rejected"
        else:
            continue
        found[approval["item_id"]] = _label(
            approval["item_id"], source, approval["actor"], approval["at"],
            f"approvals:{approval['id']}",
        )  # fmt: skip
    for item_id, rows in by_item.items():
        if OWNER_REPLY_ASSET in rows:
            row = rows[OWNER_REPLY_ASSET]
            found[item_id] = _label(
                item_id, "owner_reply", str((row["output"] or {}).get("actor") or "owner"),
                row["created_at"], f"agent_outputs:{item_id}/{OWNER_REPLY_ASSET}",
            )  # fmt: skip
        if LABEL_ASSET in rows:
            row = rows[LABEL_ASSET]
            found[item_id] = _label(
                item_id, "recategorized", str((row["output"] or {}).get("actor") or "owner"),
                row["created_at"], f"agent_outputs:{item_id}/{LABEL_ASSET}",
            )  # fmt: skip
    result = []
    for item_id, label in found.items():
        item = store.get_item(item_id)
        if item is None or not (item["subject"] or item["body"]):
            continue  # erased: its words are gone, and so is the label
        rows = by_item.get(item_id, {})
        recategorized = (rows.get(LABEL_ASSET) or {}).get("output") or {}
        category = recategorized.get("category") or item["category"]
        if label["source"] == "rejected" and not recategorized:
            category = None
        label["category"] = category
        label["reply"] = _reply(label["source"], rows)
        label["subject"], label["body"] = item["subject"] or "", item["body"] or ""
        label["sender"] = item["sender"] or ""
        result.append(label)
    return sorted(result, key=lambda label: (label["at"], label["item_id"]))


def _rows(store: Store, query: sa.Select[Any]) -> list[Row]:
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def _label(item_id: str, source: Source, actor: str, at: str, ref: str) -> Label:
    return Label(
        item_id=item_id, source=source, category=None, reply=None, actor=actor, at=at, ref=ref,
        subject="", body="", sender="",
    )  # fmt: skip


def _reply(source: Source, rows: dict[str, Row]) -> str | None:
    if OWNER_REPLY_ASSET in rows:
        return str((rows[OWNER_REPLY_ASSET]["output"] or {}).get("body") or "") or None
    if source not in ("approved", "edited", "owner_reply"):
        return None
    for asset in ("review", "reply_draft"):  # the reviewer's copy is the one that went out
        body = ((rows.get(asset) or {}).get("output") or {}).get("body")
        if body:
            return str(body)
    return None


def label_count(store: Store) -> int:
    """How many labels there are (what the retrain sensor watches), without reading text."""
    with store.engine.connect() as conn:
        owned = conn.execute(
            sa.select(sa.func.count()).where(
                t.agent_outputs.c.asset.in_([LABEL_ASSET, OWNER_REPLY_ASSET])
            )
        ).scalar_one()
        decided = conn.execute(
            sa.select(sa.func.count(sa.distinct(t.approvals.c.item_id))).where(
                t.approvals.c.policy.in_(["operator", "owner"]),
                t.approvals.c.actor.notin_(NOT_THE_OWNER),
            )
        ).scalar_one()
    return int(owned) + int(decided)
