"""The canonical store: work items and their state machine, ledgers, approvals, audit log.

Every state change happens in a transaction together with its audit record, so the log and the
state never disagree. Readers get plain dicts; nothing here knows about Dagster.
"""

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from resources.llm.hashing import canonical_json, text_hash
from resources.store import schema as t
from resources.store.call_claims import CallClaims
from resources.store.engine import make_engine, migrate
from resources.store.memory_records import MemoryRecords
from resources.store.states import (
    ALL_STATES,
    BATCH_PENDING,
    READY_TO_SEND,
    RESTING,
    check_transition,
)

Row = dict[str, Any]


def stored_forms(text: str) -> set[str]:
    """A text as it may sit in a JSON column: itself, JSON-escaped once (a prompt) and twice
    (a model's JSON answer inside the stored response)."""
    import json

    once = json.dumps(text.lower())[1:-1]
    return {text.lower(), once, json.dumps(once)[1:-1]}


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


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()


@dataclass(frozen=True)
class Registered:
    item_id: str
    state: str
    duplicate_of: str | None
    created: bool


class BudgetExhausted(Exception):
    """The day's budget cannot cover the worst case of the next call; nothing was spent."""


class ContactErased(Exception):
    """The destination's contact was erased: nothing more is sent to them."""


class Store(CallClaims, MemoryRecords):
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        migrate(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def tx(self) -> Iterator[sa.Connection]:
        with self.engine.begin() as conn:
            yield conn

    # ---------------------------------------------------------------- audit
    def _audit(
        self,
        conn: sa.Connection,
        item_id: str | None,
        actor: str,
        event: str,
        detail: dict[str, Any] | None = None,
    ) -> None:
        conn.execute(
            t.audit_log.insert().values(
                at=now_iso(), item_id=item_id, actor=actor, event=event, detail=detail or {}
            )
        )

    def audit(
        self, item_id: str | None, actor: str, event: str, detail: dict[str, Any] | None = None
    ) -> None:
        with self.tx() as conn:
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

    def audit_many(self, actor: str, event: str, details: Sequence[tuple[str, Row]]) -> None:
        """One audit record per (item, detail), in one transaction."""
        with self.tx() as conn:
            for item_id, detail in details:
                self._audit(conn, item_id, actor, event, detail)

    # ---------------------------------------------------------------- items
    def register(self, item: Row, *, batch: str | None, actor: str = "intake") -> Registered:
        """Insert a new work item; a re-registration of the same id is a no-op (crash replay).

        Duplicates (the same message: see `_find_original`) are recorded as such, pointing at
        the first item that carried them.
        """
        with self.tx() as conn:
            existing = conn.execute(
                sa.select(t.work_items.c.state, t.work_items.c.duplicate_of).where(
                    t.work_items.c.id == item["id"]
                )
            ).first()
            if existing:
                return Registered(item["id"], existing.state, existing.duplicate_of, False)
            state = item.get("state", "received")
            duplicate_of = None
            if state == "received":
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
            conn.execute(t.work_items.insert().values(**values))
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
        with self.tx() as conn:
            exists = conn.execute(sa.select(t.batches.c.key).where(t.batches.c.key == key)).first()
            if not exists:
                conn.execute(
                    t.batches.insert().values(
                        key=key, trigger=trigger, item_count=item_count, created_at=now_iso()
                    )
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
        that is how two writers racing for one item settle who moves it.
        """
        if target not in ALL_STATES:
            raise ValueError(f"unknown state {target!r}")
        with self.tx() as conn:
            current = conn.execute(
                sa.select(t.work_items.c.state).where(t.work_items.c.id == item_id)
            ).scalar_one()
            if expect is not None and current not in expect:
                return False
            check_transition(current, target)
            conn.execute(
                t.work_items.update()
                .where(t.work_items.c.id == item_id)
                .values(
                    state=target,
                    reason_code=reason_code,
                    reason=reason,
                    updated_at=now_iso(),
                    **fields,
                )
            )
            self._audit(
                conn,
                item_id,
                actor,
                "state",
                {"from": current, "to": target, "reason_code": reason_code, **(detail or {})},
            )
            return True

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
        with self.engine.connect() as conn:
            for state, count in conn.execute(query):
                counts[state] = count
        return counts

    def batch_keys(self, *, since: str | None = None) -> list[str]:
        """Every intake batch (created on or after `since`, an ISO date or time), oldest first."""
        query = sa.select(t.batches.c.key).order_by(t.batches.c.created_at)
        if since:
            query = query.where(t.batches.c.created_at >= since)
        with self.engine.connect() as conn:
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
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

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
            d.c.state == "confirmed", sa.func.lower(tail) == suffix
        )
        with self.engine.connect() as conn:
            return bool(conn.execute(query).scalar_one())

    # ---------------------------------------------------------------- controls
    def set_control(self, key: str, value: str, *, actor: str) -> None:
        c = t.controls
        with self.tx() as conn:
            conn.execute(c.delete().where(c.c.key == key))
            conn.execute(c.insert().values(key=key, value=value, actor=actor, at=now_iso()))
            self._audit(conn, None, actor, f"control_{key}", {"value": value})

    def control(self, key: str) -> Row | None:
        rows = self._all(t.controls.select().where(t.controls.c.key == key))
        return rows[0] if rows else None

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

    def kill_switch_on(self) -> bool:
        row = self.control("kill_switch")
        return bool(row and row["value"] == "on")

    def in_flight_count(self) -> int:
        query = sa.select(sa.func.count()).where(t.work_items.c.state.notin_(RESTING))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    # ---------------------------------------------------------------- approvals
    def record_approval(
        self, item_id: str, decision: str, *, actor: str, policy: str, note: str | None = None
    ) -> None:
        with self.tx() as conn:
            conn.execute(
                t.approvals.insert().values(
                    item_id=item_id,
                    decision=decision,
                    actor=actor,
                    policy=policy,
                    note=note,
                    at=now_iso(),
                )
            )
            self._audit(conn, item_id, actor, "approval", {"decision": decision, "policy": policy})

    def approvals_for(self, item_id: str) -> list[Row]:
        return self._all(
            t.approvals.select().where(t.approvals.c.item_id == item_id).order_by(t.approvals.c.id)
        )

    def approvals_after(self, approval_id: int) -> list[Row]:
        return self._all(
            t.approvals.select().where(t.approvals.c.id > approval_id).order_by(t.approvals.c.id)
        )

    # ---------------------------------------------------------------- agent outputs
    def save_output(self, row: Row) -> None:
        with self.tx() as conn:
            key = (t.agent_outputs.c.item_id == row["item_id"]) & (
                t.agent_outputs.c.asset == row["asset"]
            )
            conn.execute(t.agent_outputs.delete().where(key))
            conn.execute(t.agent_outputs.insert().values(created_at=now_iso(), **row))

    def get_output(self, item_id: str, asset: str) -> Row | None:
        rows = self._all(
            t.agent_outputs.select().where(
                (t.agent_outputs.c.item_id == item_id) & (t.agent_outputs.c.asset == asset)
            )
        )
        return rows[0] if rows else None

    def outputs_for(self, item_id: str) -> list[Row]:
        return self._all(t.agent_outputs.select().where(t.agent_outputs.c.item_id == item_id))

    # ---------------------------------------------------------------- CRM
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

    # ---------------------------------------------------------------- privacy
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
            ):
                counts[name] = conn.execute(table.delete().where(condition)).rowcount
            counts.update(self.forget_memory_records(conn, item_ids, email))
            counts.update(self._erase_quoting(conn, list(quoting)))
            # What was erased, never what it said: counts only, no address, no text.
            self._audit(conn, None, "privacy", "erased", {"items": len(item_ids), **counts})
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

    # ---------------------------------------------------------------- failures dataset
    def record_failure(
        self,
        *,
        item_id: str | None,
        agent: str,
        kind: str,
        reason: str,
        prompt_version: str | None = None,
        model: str | None = None,
        run_id: str | None = None,
        input: Any = None,
        output: Any = None,
    ) -> bool:
        """Keep one failure; the same failure seen again (a re-run) is recorded once."""
        fingerprint = text_hash(
            canonical_json([item_id, agent, kind, reason, prompt_version, input, output])
        )
        with self.tx() as conn:
            seen = conn.execute(
                sa.select(t.failures.c.id).where(t.failures.c.fingerprint == fingerprint)
            ).first()
            if seen is not None:
                return False
            conn.execute(
                t.failures.insert().values(
                    at=now_iso(),
                    item_id=item_id,
                    agent=agent,
                    kind=kind,
                    reason=reason,
                    prompt_version=prompt_version,
                    model=model,
                    run_id=run_id,
                    input=input,
                    output=output,
                    fingerprint=fingerprint,
                )
            )
            return True

    def failures(self, *, agent: str | None = None, item_id: str | None = None) -> list[Row]:
        query = t.failures.select().order_by(t.failures.c.id)
        if agent is not None:
            query = query.where(t.failures.c.agent == agent)
        if item_id is not None:
            query = query.where(t.failures.c.item_id == item_id)
        return self._all(query)

    # ---------------------------------------------------------------- model-call ledger
    def get_call(self, request_hash: str) -> Row | None:
        rows = self._all(t.model_calls.select().where(t.model_calls.c.request_hash == request_hash))
        return rows[0] if rows else None

    def reserve(
        self,
        request_hash: str,
        worst_case_usd: float,
        daily_budget_usd: float,
        *,
        workflow: str | None = None,
        workflow_budget_usd: float | None = None,
    ) -> int:
        """Reserve the worst case of a call against today's budgets, or raise BudgetExhausted.

        Settled reservations count at their actual cost, open ones at their worst case, so
        concurrent callers can never overspend between them.
        """
        day = today()
        br = t.budget_reservations
        committed_expr = sa.func.coalesce(
            sa.func.sum(
                sa.case((br.c.status == "settled", br.c.actual_usd), else_=br.c.reserved_usd)
            ),
            0.0,
        )
        open_or_settled = (br.c.day == day, br.c.status != "released")
        refused: dict[str, Any] | None = None
        with self.tx() as conn:
            limits = [
                (
                    "daily",
                    daily_budget_usd,
                    conn.execute(sa.select(committed_expr).where(*open_or_settled)).scalar_one(),
                )
            ]
            if workflow and workflow_budget_usd is not None:
                limits.append(
                    (
                        workflow,
                        workflow_budget_usd,
                        conn.execute(
                            sa.select(committed_expr).where(
                                *open_or_settled, br.c.workflow == workflow
                            )
                        ).scalar_one(),
                    )
                )
            for scope, budget, committed in limits:
                if committed + worst_case_usd > budget + 1e-12:
                    refused = {
                        "day": day,
                        "scope": scope,
                        "committed_usd": committed,
                        "worst_case_usd": worst_case_usd,
                        "budget_usd": budget,
                    }
                    break
            else:
                result = conn.execute(
                    br.insert().values(
                        day=day,
                        workflow=workflow,
                        request_hash=request_hash,
                        reserved_usd=worst_case_usd,
                        status="reserved",
                        at=now_iso(),
                    )
                )
                (reservation_id,) = result.inserted_primary_key or (0,)
                return int(reservation_id)
        # Audited in a transaction of its own: the refusal must outlive the refused call.
        self.audit(None, "budget", "budget_refused", refused)
        raise BudgetExhausted(
            f"{refused['scope']} budget {refused['budget_usd']:.4f} USD would be exceeded "
            f"(committed {refused['committed_usd']:.4f}, next call up to "
            f"{worst_case_usd:.4f})"
        )

    def budget_usage(self) -> dict[str, float]:
        """Today's committed spend (settled actuals plus open worst cases), per workflow."""
        br = t.budget_reservations
        amount = sa.case((br.c.status == "settled", br.c.actual_usd), else_=br.c.reserved_usd)
        query = (
            sa.select(br.c.workflow, sa.func.coalesce(sa.func.sum(amount), 0.0))
            .where(br.c.day == today(), br.c.status != "released")
            .group_by(br.c.workflow)
        )
        usage: dict[str, float] = {}
        with self.engine.connect() as conn:
            for workflow, spent in conn.execute(query):
                usage[workflow or "(none)"] = float(spent)
        usage["daily"] = sum(usage.values())
        return usage

    def release(self, reservation_id: int) -> None:
        with self.tx() as conn:
            conn.execute(
                t.budget_reservations.update()
                .where(t.budget_reservations.c.id == reservation_id)
                .values(status="released")
            )

    def settle(self, reservation_id: int, actual_usd: float) -> None:
        """Settle a reservation that has no ledger row (a paid embeddings request)."""
        with self.tx() as conn:
            conn.execute(
                t.budget_reservations.update()
                .where(t.budget_reservations.c.id == reservation_id)
                .values(status="settled", actual_usd=actual_usd)
            )

    def record_call(self, reservation_id: int, call: Row) -> None:
        """Store a paid call's response and cost, and settle its reservation, in one step.
        If another process paid for the same request meanwhile, its answer stays the ledger's;
        this payment still counts against the budget (the reservation settles at its cost)."""
        with self.tx() as conn:
            known = conn.execute(
                sa.select(t.model_calls.c.request_hash).where(
                    t.model_calls.c.request_hash == call["request_hash"]
                )
            ).first()
            if known is None:
                conn.execute(t.model_calls.insert().values(created_at=now_iso(), **call))
            conn.execute(
                t.budget_reservations.update()
                .where(t.budget_reservations.c.id == reservation_id)
                .values(status="settled", actual_usd=call["cost_usd"])
            )

    def record_use(
        self,
        request_hash: str,
        *,
        item_id: str | None,
        run_id: str | None,
        asset: str | None,
        cached: bool,
    ) -> None:
        with self.tx() as conn:
            conn.execute(
                t.call_uses.insert().values(
                    request_hash=request_hash,
                    item_id=item_id,
                    run_id=run_id,
                    asset=asset,
                    cached=cached,
                    at=now_iso(),
                )
            )

    def calls_for_item(self, item_id: str) -> list[Row]:
        """Every use of the model for one item: paid or served from the ledger."""
        mc, cu = t.model_calls, t.call_uses
        query = (
            sa.select(
                cu.c.at,
                cu.c.asset,
                cu.c.run_id,
                cu.c.cached,
                mc.c.request_hash,
                mc.c.model,
                mc.c.prompt_version,
                mc.c.tokens_in,
                mc.c.tokens_out,
                mc.c.cost_usd,
            )
            .join(mc, mc.c.request_hash == cu.c.request_hash)
            .where(cu.c.item_id == item_id)
            .order_by(cu.c.id)
        )
        return self._all(query)

    def spent_today(self) -> float:
        br = t.budget_reservations
        query = sa.select(sa.func.coalesce(sa.func.sum(br.c.actual_usd), 0.0)).where(
            br.c.day == today(), br.c.status == "settled"
        )
        with self.engine.connect() as conn:
            return float(conn.execute(query).scalar_one())

    def ledger(self) -> tuple[list[Row], list[Row]]:
        """Every paid call (without request and response text) and every use of one."""
        mc = t.model_calls
        calls = self._all(
            sa.select(*(c for c in mc.c if c.name not in ("request", "response"))).order_by(
                mc.c.created_at
            )
        )
        return calls, self._all(t.call_uses.select().order_by(t.call_uses.c.id))

    def call_totals_for_runs(self, run_ids: Sequence[str]) -> Row:
        """Paid calls and cache hits of some runs (from the uses each run recorded)."""
        cu, mc = t.call_uses, t.model_calls
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(cu.c.cached, mc.c.cost_usd)
                .join(mc, mc.c.request_hash == cu.c.request_hash, isouter=True)
                .where(cu.c.run_id.in_(list(run_ids)))
            ).all()
        paid = [r for r in rows if not r.cached]
        return {
            "model_calls": len(paid),
            "cache_hits": len(rows) - len(paid),
            "cost_usd": float(sum(r.cost_usd or 0.0 for r in paid)),
        }

    def call_totals(self, since: str | None = None) -> Row:
        """Paid calls, their tokens and cost, and cache hits (optionally since a timestamp)."""
        mc, cu = t.model_calls, t.call_uses
        with self.engine.connect() as conn:
            paid = conn.execute(
                sa.select(
                    sa.func.count(),
                    sa.func.coalesce(sa.func.sum(mc.c.tokens_in), 0),
                    sa.func.coalesce(sa.func.sum(mc.c.tokens_out), 0),
                    sa.func.coalesce(sa.func.sum(mc.c.cost_usd), 0.0),
                ).where(mc.c.created_at >= (since or ""))
            ).one()
            hits = conn.execute(
                sa.select(sa.func.count()).where(cu.c.cached.is_(True), cu.c.at >= (since or ""))
            )
            return {
                "model_calls": int(paid[0]),
                "tokens_in": int(paid[1]),
                "tokens_out": int(paid[2]),
                "cost_usd": float(paid[3]),
                "cache_hits": int(hits.scalar_one()),
            }

    # ---------------------------------------------------------------- delivery ledger
    def delivery_intent(self, row: Row) -> Row:
        """Record the intent to deliver, once per (item, destination, purpose); return the row."""
        d = t.deliveries
        with self.tx() as conn:
            found = (
                conn.execute(
                    d.select().where(
                        d.c.item_id == row["item_id"],
                        d.c.destination == row["destination"],
                        d.c.purpose == row["purpose"],
                    )
                )
                .mappings()
                .first()
            )
            if found:
                return dict(found)
            stamp = now_iso()
            values = {
                **row,
                "state": "intent",
                "attempts": 0,
                "created_at": stamp,
                "updated_at": stamp,
            }
            conn.execute(d.insert().values(**values))
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
            item_id = conn.execute(sa.select(d.c.item_id).where(d.c.id == delivery_id)).scalar_one()
            values: Row = {"state": state, "updated_at": now_iso()}
            if receipt is not None:
                values["receipt"] = receipt
            query = d.update().where(d.c.id == delivery_id)
            if expect is not None:
                query = query.where(d.c.state.in_(list(expect)))
            if conn.execute(query.values(**values)).rowcount != 1:
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
        import email.utils
        import hashlib

        address = (email.utils.parseaddr(destination)[1] or destination).strip().lower()
        return f"erased:{hashlib.sha256(address.encode()).hexdigest()}"

    def delivery_block_contact(self, email: str) -> None:
        """From now on nothing is sent to this address (an erase): checked by every attempt."""
        c, key = t.controls, self._delivery_tombstone(email)
        with self.tx() as conn:
            if conn.execute(sa.select(c.c.key).where(c.c.key == key)).first() is None:
                conn.execute(
                    c.insert().values(key=key, value="erased", actor="privacy", at=now_iso())
                )
                self._audit(conn, None, "privacy", "delivery_blocked", {})

    def delivery_content(self, delivery_id: str, content_hash: str) -> None:
        """The body to send changed before anything went out (a new approval): the ledger
        records what is sent now."""
        d = t.deliveries
        with self.tx() as conn:
            conn.execute(
                d.update()
                .where(d.c.id == delivery_id)
                .values(content_hash=content_hash, updated_at=now_iso())
            )
            item_id = conn.execute(sa.select(d.c.item_id).where(d.c.id == delivery_id)).scalar_one()
            self._audit(conn, item_id, "delivery", "delivery_content", {"delivery_id": delivery_id})

    def delivery_attempt(self, delivery_id: str, seen_attempts: int) -> bool:
        """Count a send attempt, compare-and-set: of two drains only one may send. Raises
        ContactErased, in the same transaction, when the destination's contact was erased:
        an erase committed before this attempt always wins."""
        d, c = t.deliveries, t.controls
        with self.tx() as conn:
            destination = conn.execute(
                sa.select(d.c.destination).where(d.c.id == delivery_id)
            ).scalar_one()
            tombstone = self._delivery_tombstone(destination)
            if conn.execute(sa.select(c.c.key).where(c.c.key == tombstone)).first() is not None:
                raise ContactErased(delivery_id)
            result = conn.execute(
                d.update()
                .where(d.c.id == delivery_id, d.c.attempts == seen_attempts)
                # "attempting" until the send's outcome is recorded: a crash leaves it there,
                # and the next drain asks instead of sending again.
                .values(attempts=seen_attempts + 1, state="attempting", updated_at=now_iso())
            )
            if result.rowcount != 1:
                return False
            item_id = conn.execute(sa.select(d.c.item_id).where(d.c.id == delivery_id)).scalar_one()
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
        with self.engine.connect() as conn:
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

    # ---------------------------------------------------------------- helpers
    def _all(self, query: sa.Select[Any]) -> list[Row]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]
