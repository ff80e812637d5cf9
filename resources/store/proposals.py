"""The proposals workflow's tables and queries: the plan's steps, each version of a proposal
(its Markdown, code-priced lines and status), and the verifier's rows per version.

Kept beside their tables (migration 0009) and taking a `Store`, so the facade needs no edit to
gain them. A version's status moves by compare-and-set, like a work item's state:

drafted -> verified | revise | failed -> awaiting_approval | approved | rejected -> sending -> sent
"""

import difflib
import json
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from resources.store import schema as t
from resources.store.base import insert, serialise
from resources.store.store import Store, now_iso

Row = dict[str, Any]

metadata = sa.MetaData()

plan_steps = sa.Table(
    "proposal_plan_steps",
    metadata,
    sa.Column("item_id", sa.String, primary_key=True),
    sa.Column("step", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("description", sa.String, nullable=False),
    sa.Column("criterion", sa.String, nullable=False),
    sa.Column("prompt_version", sa.String, nullable=False),
    sa.Column("created_at", sa.String, nullable=False),
)

versions = sa.Table(
    "proposal_versions",
    metadata,
    sa.Column("item_id", sa.String, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("title", sa.String, nullable=False),
    sa.Column("markdown", sa.Text, nullable=False),
    sa.Column("lines", sa.JSON, nullable=False),
    sa.Column("total", sa.Float, nullable=False),
    sa.Column("currency", sa.String, nullable=False),
    sa.Column("valid_until", sa.String, nullable=False),
    sa.Column("start_date", sa.String, nullable=False),
    sa.Column("to_address", sa.String, nullable=False),
    sa.Column("subject", sa.String, nullable=False),
    sa.Column("cover_mail", sa.Text, nullable=False),
    sa.Column("content_sha256", sa.String, nullable=False),
    sa.Column("catalogue_version", sa.String, nullable=False),
    sa.Column("prompt_version", sa.String, nullable=False),
    sa.Column("corrections", sa.JSON, nullable=False),
    sa.Column("feedback", sa.Text),
    sa.Column("reason_code", sa.String),
    sa.Column("created_at", sa.String, nullable=False),
    sa.Column("updated_at", sa.String, nullable=False),
)

checks = sa.Table(
    "proposal_checks",
    metadata,
    sa.Column("item_id", sa.String, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("check_no", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("evidence", sa.Text, nullable=False),
    sa.Column("created_at", sa.String, nullable=False),
)


def _all(store: Store, query: sa.Select[Any]) -> list[Row]:
    with store.read() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def save_plan(store: Store, item_id: str, steps: Sequence[Row], *, prompt_version: str) -> None:
    """The plan's steps for an item, replacing an earlier plan (one plan per lead)."""
    stamp = now_iso()
    with store.tx() as conn:
        conn.execute(plan_steps.delete().where(plan_steps.c.item_id == item_id))
        for number, step in enumerate(steps, start=1):
            conn.execute(
                plan_steps.insert().values(
                    item_id=item_id,
                    step=number,
                    kind=step["kind"],
                    description=step["description"],
                    criterion=step["criterion"],
                    prompt_version=prompt_version,
                    created_at=stamp,
                )
            )
    store.audit(item_id, "proposal_plan", "plan_saved", {"steps": len(steps)})


def plan(store: Store, item_id: str) -> list[Row]:
    return _all(store, plan_steps.select().where(plan_steps.c.item_id == item_id).order_by("step"))


def add_version(store: Store, row: Row) -> int:
    """A new version of an item's proposal (the earlier ones are kept); its number."""
    stamp = now_iso()
    with store.tx() as conn:
        # Two writers numbering one item's versions take turns (max + 1 read, then written).
        serialise(conn, f"proposal_version:{row['item_id']}")
        latest = conn.execute(
            sa.select(sa.func.max(versions.c.version)).where(versions.c.item_id == row["item_id"])
        ).scalar()
        number = int(latest or 0) + 1
        conn.execute(
            versions.insert().values(
                **row, version=number, status="drafted", created_at=stamp, updated_at=stamp
            )
        )
        store._audit(
            conn, row["item_id"], "proposal_draft", "proposal_version", {"version": number}
        )
    return number


def get_version(store: Store, item_id: str, version: int) -> Row | None:
    rows = _all(
        store,
        versions.select().where((versions.c.item_id == item_id) & (versions.c.version == version)),
    )
    return rows[0] if rows else None


def all_versions(store: Store, item_id: str) -> list[Row]:
    return _all(store, versions.select().where(versions.c.item_id == item_id).order_by("version"))


def latest(store: Store, item_id: str) -> Row | None:
    found = all_versions(store, item_id)
    return found[-1] if found else None


def latest_by_status(store: Store, statuses: Iterable[str]) -> list[Row]:
    """Each item's newest version, when its status is one of these."""
    wanted = set(statuses)
    newest = (
        sa.select(versions.c.item_id, sa.func.max(versions.c.version).label("version"))
        .group_by(versions.c.item_id)
        .subquery()
    )
    query = (
        versions.select()
        .join(
            newest,
            (versions.c.item_id == newest.c.item_id) & (versions.c.version == newest.c.version),
        )
        .where(versions.c.status.in_(wanted))
        .order_by(versions.c.created_at)
    )
    return _all(store, query)


def set_status(
    store: Store,
    item_id: str,
    version: int,
    status: str,
    *,
    actor: str,
    expect: Sequence[str],
    reason_code: str | None = None,
    feedback: str | None = None,
) -> bool:
    """Compare-and-set: True when this call moved the version (audited). A reason code or
    feedback is written only when given: the drafter's own findings stay on the version."""
    changes = {
        k: v for k, v in (("reason_code", reason_code), ("feedback", feedback)) if v is not None
    }
    with store.tx() as conn:
        moved = conn.execute(
            versions.update()
            .where(
                (versions.c.item_id == item_id)
                & (versions.c.version == version)
                & versions.c.status.in_(list(expect))
            )
            .values(status=status, updated_at=now_iso(), **changes)
        ).rowcount
        if moved:  # the move and its record commit together
            store._audit(
                conn,
                item_id,
                actor,
                "proposal_status",
                {"version": version, "status": status, "reason_code": reason_code},
            )
    return bool(moved)


def save_checks(store: Store, item_id: str, version: int, rows: Sequence[Row]) -> None:
    """The verifier's rows for one version (a re-verification replaces them)."""
    stamp = now_iso()
    with store.tx() as conn:
        conn.execute(
            checks.delete().where((checks.c.item_id == item_id) & (checks.c.version == version))
        )
        for number, row in enumerate(rows, start=1):
            conn.execute(
                checks.insert().values(
                    item_id=item_id,
                    version=version,
                    check_no=number,
                    kind=row["kind"],
                    name=row["name"],
                    passed=bool(row["passed"]),
                    evidence=row["evidence"][:500],
                    created_at=stamp,
                )
            )


def checks_for(store: Store, item_id: str, version: int) -> list[Row]:
    return _all(
        store,
        checks.select()
        .where((checks.c.item_id == item_id) & (checks.c.version == version))
        .order_by("check_no"),
    )


# --- Revisions, their diff, and the deal's value (issue 18 §2: a request for changes makes a
# new version, old ones kept, the diff shown to the owner). No new table or column: a version
# that revises one of another item (a client's answer revising the lead's proposal) says so in
# the `controls` table, one put-once row per version, like resources/store/mailbox_links.py.

REVISES = "proposal_revises:"
LINK_ACTOR = "proposals"


def link_revision(
    store: Store, item_id: str, version: int, *, revises_item: str, revises_version: int
) -> bool:
    """Record that `item_id` v`version` revises `revises_item` v`revises_version`, once (a
    re-run after a crash writes nothing twice); whether it was new. Audited with it."""
    value = {"item_id": revises_item, "version": revises_version}
    c = t.controls
    with store.tx() as conn:
        stamp = now_iso()
        added = conn.execute(
            insert(conn, c)
            .values(key=f"{REVISES}{item_id}:{version}", value=json.dumps(value), actor=LINK_ACTOR,
                    at=stamp)
            .on_conflict_do_nothing(index_elements=[c.c.key])
        ).rowcount  # fmt: skip
        if added:
            store._audit(
                conn, item_id, LINK_ACTOR, "proposal_revision_linked", {"version": version, **value}
            )
    return bool(added)


def revised_version(store: Store, item_id: str, version: int) -> Row | None:
    """The version this one revises: the linked one (another item's), else the item's own
    previous version; None for a first proposal."""
    row = store.control(f"{REVISES}{item_id}:{version}")
    if row is not None:
        try:
            link = json.loads(row["value"])
            return get_version(store, str(link["item_id"]), int(link["version"]))
        except (ValueError, KeyError, TypeError):
            return None
    return get_version(store, item_id, version - 1) if version > 1 else None


def history(store: Store, item_id: str, version: int | None = None) -> list[Row]:
    """Every version up to this one (the newest when None), oldest first, across the items a
    revision chain spans (the lead's v1, then the answer's v1 revising it, ...)."""
    current = get_version(store, item_id, version) if version else latest(store, item_id)
    chain: list[Row] = []
    while current is not None and len(chain) < 50:  # a chain is short; 50 stops a loop
        chain.append(current)
        current = revised_version(store, current["item_id"], current["version"])
    return list(reversed(chain))


def _priced_lines(version: Row) -> list[str]:
    lines = [
        f"{x['code']}  {x['quantity']} {x['unit']} x {x['unit_price']} = {x['amount']}"
        for x in version["lines"]
    ]
    return [*lines, f"TOTAL {float(version['total']):.2f} {version['currency']}"]


def diff(store: Store, item_id: str, version: int) -> str:
    """A unified diff of the Markdown and of the priced lines between this version and the
    one it revises, as plain text for the CLI and the desk; "" for a first version."""
    new = get_version(store, item_id, version)
    old = revised_version(store, item_id, version) if new is not None else None
    if new is None or old is None:
        return ""
    before = f"{old['item_id']} v{old['version']}"
    after = f"{new['item_id']} v{new['version']}"
    text = difflib.unified_diff(
        old["markdown"].splitlines(),
        new["markdown"].splitlines(),
        f"{before} (markdown)",
        f"{after} (markdown)",
        lineterm="",
    )
    priced = difflib.unified_diff(
        _priced_lines(old), _priced_lines(new), f"{before} (lines)", f"{after} (lines)", lineterm=""
    )
    return "\n".join([*text, *priced])


def set_deal_amount(store: Store, source_item_id: str, amount: str) -> bool:
    """The deal's value as the proposal's total (`"3600.00 EUR"`): the CRM's upsert moves
    stages only, so the workflow sets the value it priced. True when it changed."""
    d = t.deals
    with store.tx() as conn:
        changed = conn.execute(
            d.update()
            .where((d.c.source_item_id == source_item_id) & (d.c.amount.is_distinct_from(amount)))
            .values(amount=amount, updated_at=now_iso())
        ).rowcount
        if changed:
            store._audit(conn, source_item_id, LINK_ACTOR, "deal_amount", {"amount": amount})
    return bool(changed)


def story(store: Store, item_id: str) -> Row | None:
    """What `opsbench show ITEM` shows of a proposal: the plan, and each version with the
    verifier's rows and the diff to the version it revises; None when the item has neither."""
    steps, kept = plan(store, item_id), all_versions(store, item_id)
    if not steps and not kept:
        return None
    shown = []
    for version in kept:
        before = revised_version(store, item_id, version["version"])
        shown.append(
            {
                **{k: version[k] for k in ("version", "status", "title", "total", "currency")},
                "reason_code": version["reason_code"],
                "revises": f"{before['item_id']} v{before['version']}" if before else None,
                "markdown": version["markdown"],
                "lines": version["lines"],
                "checks": [
                    {k: c[k] for k in ("kind", "name", "passed", "evidence")}
                    for c in checks_for(store, item_id, version["version"])
                ],
                "diff": diff(store, item_id, version["version"]),
            }
        )
    return {
        "plan": [{k: s[k] for k in ("step", "kind", "description", "criterion")} for s in steps],
        "versions": shown,
    }
