"""The canonical store: migrations, state machine, append-only audit, ledgers — on SQLite
and on Postgres."""

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from postgres import fresh_database_url

from resources.store import IllegalTransition, Store


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path) -> Iterator[str]:
    """The store's URL on each backend it runs on."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite'}"
    else:
        yield from fresh_database_url()


@pytest.fixture
def store(store_url) -> Iterator[Store]:
    store = Store(store_url)
    yield store
    store.close()


def _item(item_id: str, **extra) -> dict:
    return {"id": item_id, "source": f"{item_id}.eml", "kind": "eml", **extra}


def test_migrations_are_idempotent_and_recorded(store_url) -> None:
    Store(store_url).close()
    store = Store(store_url)  # second start: nothing to do, nothing breaks
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("select version_num from alembic_version")).scalar() == "0012"
        if store.engine.dialect.name == "sqlite":
            assert conn.execute(sa.text("pragma journal_mode")).scalar() == "wal"
    store.close()


def test_illegal_transitions_are_refused(store) -> None:
    store.register(_item("a"), batch="b")
    with pytest.raises(IllegalTransition):
        store.transition("a", "delivered", actor="test")
    assert store.get_item("a")["state"] == "received"


def test_expect_makes_racing_writers_settle(store) -> None:
    store.register(_item("a"), batch="b")
    assert store.transition("a", "triaged", actor="one", expect=("received",))
    assert not store.transition("a", "no_action", actor="two", expect=("received",))
    assert store.get_item("a")["state"] == "triaged"


def test_audit_log_is_append_only(store) -> None:
    store.register(_item("a"), batch="b")
    store.transition("a", "triaged", actor="test")
    assert [e["event"] for e in store.audit_for("a")] == ["registered", "state"]
    statements = ["update audit_log set actor = 'x'", "delete from audit_log"]
    if store.engine.dialect.name == "postgresql":
        statements.append("truncate audit_log")
    for statement in statements:
        with pytest.raises(sa.exc.IntegrityError, match="append-only"), store.tx() as conn:
            conn.execute(sa.text(statement))
    assert len(store.audit_for("a")) == 2


def test_duplicates_point_at_the_original(store) -> None:
    store.register(_item("a", message_id="<m@x>", content_hash="h1"), batch="b")
    by_id = store.register(_item("b", message_id="<m@x>", content_hash="h2"), batch="b")
    by_body = store.register(_item("c", message_id="<other@x>", content_hash="h1"), batch="b")
    assert (by_id.state, by_id.duplicate_of) == ("duplicate", "a")
    assert (by_body.state, by_body.duplicate_of) == ("duplicate", "a")
    again = store.register(_item("a", message_id="<m@x>"), batch="b")
    assert not again.created and again.state == "received"


def test_budget_reservation_refuses_over_budget(store) -> None:
    from resources.store import BudgetExhausted

    first = store.reserve("h1", 0.6, daily_budget_usd=1.0)
    with pytest.raises(BudgetExhausted):
        store.reserve("h2", 0.6, daily_budget_usd=1.0)
    store.release(first)
    store.reserve("h2", 0.6, daily_budget_usd=1.0)


def test_delivery_intent_is_unique_per_item_destination_purpose(store) -> None:
    store.register(_item("a"), batch="b")
    row = {
        "id": "d1",
        "item_id": "a",
        "destination": "x@y.example",
        "purpose": "reply",
        "connector": "outbox",
        "content_hash": "c",
    }
    first = store.delivery_intent(row)
    second = store.delivery_intent({**row, "id": "d2"})
    assert first["id"] == second["id"] == "d1"
    assert len(store.deliveries_for("a")) == 1


def test_erase_works_beside_the_append_only_audit(store) -> None:
    store.register(_item("a", sender="c@x.example", body="secret words"), batch="b")
    store.register(_item("z", sender="other@x.example"), batch="b")
    counts = store.erase_items(["a"], "c@x.example")
    assert counts["work_items"] == 1
    assert store.get_item("a") is None and store.get_item("z") is not None
    assert store.audit_for("a")  # ids and codes stay
    assert "secret words" not in repr(store.audit_for_event("erased"))


def test_transition_many_moves_the_expected_in_one_go(store) -> None:
    for i in ("a", "b", "c"):
        store.register(_item(i), batch="b")
    store.transition("c", "no_action", actor="test")
    moved = store.transition_many(
        ["a", "b", "c", "unknown"], ("received",), "triaged", actor="test", reason="batch"
    )
    assert moved == ["a", "b"]
    assert [store.get_item(i)["state"] for i in "abc"] == ["triaged", "triaged", "no_action"]
    assert [e["detail"]["from"] for e in store.audit_for("a") if e["event"] == "state"] == [
        "received"
    ]
    # Again: nothing is in `received` any more, nothing moves, nothing is audited.
    assert store.transition_many(["a", "b"], ("received",), "triaged", actor="test") == []
    assert len(store.audit_for("b")) == 2


def test_an_illegal_move_in_a_batch_moves_nothing(store) -> None:
    store.register(_item("a"), batch="b")
    store.register(_item("b"), batch="b")
    store.transition("b", "triaged", actor="test")
    with pytest.raises(IllegalTransition):
        store.transition_many(["a", "b"], ("received", "triaged"), "drafted", actor="test")
    assert store.get_item("a")["state"] == "received"
    assert store.get_item("b")["state"] == "triaged"


def test_transition_of_an_unknown_item_raises(store) -> None:
    with pytest.raises(sa.exc.NoResultFound):
        store.transition("nope", "triaged", actor="test")
    assert not store.transition("nope", "triaged", actor="test", expect=("received",))


def test_a_lock_expires_but_a_live_holder_keeps_it(store) -> None:
    assert store.acquire_lock("drain", "run-a", lambda _o: False, ttl_s=3600)
    assert not store.acquire_lock("drain", "run-b", lambda _o: False)
    assert store.acquire_lock("drain", "run-a", lambda _o: False, ttl_s=0.0)  # renewed (to now)
    deadline = time.time()
    while time.time() <= deadline:  # the expiry lies in the past once the clock moved on
        pass
    assert store.acquire_lock("drain", "run-b", lambda _o: False)
    assert store.lock_holder("drain")["owner"] == "run-b"
    store.release_lock("drain", "run-a")  # not the holder: no effect
    assert not store.acquire_lock("drain", "run-c", lambda _o: False)
    assert store.renew_lock("drain", "run-b") and not store.renew_lock("drain", "run-a")
    store.release_lock("drain", "run-b")
    assert store.lock_holder("drain") is None


def test_upserts_keep_one_row_and_audit_changes_only(store) -> None:
    store.set_control("kill_switch", "on", actor="owner")
    store.set_control("kill_switch", "off", actor="owner")
    assert store.control("kill_switch")["value"] == "off" and not store.kill_switch_on()
    contact = {
        "email": "c@x.example",
        "name": "C",
        "company": None,
        "messages": 1,
        "replies_sent": 0,
        "last_category": "sales",
        "first_seen": "2026-01-01",
        "last_seen": "2026-01-01",
    }
    assert store.upsert_contact(contact)
    assert not store.upsert_contact(contact)
    assert store.upsert_contact({**contact, "messages": 2})
    assert [c["messages"] for c in store.contacts()] == [2]
    deal = {"id": "d1", "contact_email": "c@x.example", "source_item_id": "a", "stage": "lead"}
    assert store.upsert_deal(deal) and not store.upsert_deal(deal)
    assert store.upsert_deal({**deal, "stage": "won"})
    assert [d["stage"] for d in store.deals()] == ["won"]
    assert len(store.audit_for_event("contact_updated")) == 2
    store.save_output({"item_id": "a", "asset": "triage", "output": {"x": 1}, "model": "m"})
    store.save_output({"item_id": "a", "asset": "triage", "output": {"x": 2}})
    (output,) = store.outputs_for("a")
    assert output["output"] == {"x": 2} and output["model"] is None
    assert store.record_failure(item_id="a", agent="triage", kind="schema", reason="r")
    assert not store.record_failure(item_id="a", agent="triage", kind="schema", reason="r")


def test_a_settled_reservation_is_not_released(store) -> None:
    spent = store.reserve("h1", 0.5, daily_budget_usd=1.0, workflow="w", workflow_budget_usd=0.6)
    store.settle(spent, 0.4)
    store.release(spent)
    assert store.spent_today() == pytest.approx(0.4)
    from resources.store import BudgetExhausted

    with pytest.raises(BudgetExhausted, match="w budget"):
        store.reserve("h2", 0.3, daily_budget_usd=1.0, workflow="w", workflow_budget_usd=0.6)
    assert store.audit_for_event("budget_refused")[0]["detail"]["scope"] == "w"


def _table_bytes(store: Store, table: str) -> bytes:
    """What the server's data files hold for `table`, after a checkpoint flushed its pages."""
    from pathlib import Path

    with store.engine.connect() as conn:
        conn.execute(sa.text("checkpoint"))
        data = Path(conn.execute(sa.text("show data_directory")).scalar_one())
        relative = conn.execute(sa.text(f"select pg_relation_filepath('{table}')")).scalar_one()
    try:
        return b"".join(p.read_bytes() for p in data.glob(f"{relative}*"))
    except PermissionError:
        pytest.skip("the server's data files are not readable by this user")


def test_erased_text_leaves_the_postgres_table_files() -> None:
    """On Postgres a DELETE leaves the row's bytes in the table's pages until they are
    rewritten; erase rewrites what it deleted from, so the words are gone from the data files
    (read as the server keeps them). SQLite's VACUUM is tested in tests/opsbench/test_privacy.py."""
    for url in fresh_database_url():
        store = Store(url)
        try:
            store.register(_item("a", sender="c@x.example", body="hushhush-7f3a words"), batch="b")
            store.register(_item("z", sender="other@x.example", body="kept"), batch="b")
            assert b"hushhush-7f3a" in _table_bytes(store, "work_items")  # it can see it
            store.erase_items(["a"], "c@x.example")
            assert b"hushhush-7f3a" not in _table_bytes(store, "work_items")
            assert store.get_item("z")["body"] == "kept"
        finally:
            store.close()


def test_erase_takes_the_proposals_of_the_contact(store) -> None:
    """A lead's proposal (its Markdown and cover mail quote the lead) goes with the lead."""
    from resources.store import proposals

    store.register(_item("a", sender="lead@x.example", body="we need a shop"), batch="b")
    proposals.save_plan(
        store,
        "a",
        [{"kind": "scope", "description": "a shop for lead", "criterion": "named"}],
        prompt_version="p",
    )
    version = proposals.add_version(
        store,
        {
            "item_id": "a",
            "title": "Shop for Lead Ltd",
            "markdown": "# A shop for Lead Ltd",
            "lines": [],
            "total": 100.0,
            "currency": "EUR",
            "valid_until": "2027-01-01",
            "start_date": "2027-01-02",
            "to_address": "lead@x.example",
            "subject": "Your proposal",
            "cover_mail": "Dear Lead",
            "content_sha256": "0" * 64,
            "catalogue_version": "c",
            "prompt_version": "p",
            "corrections": [],
        },
    )
    proposals.save_checks(
        store,
        "a",
        version,
        [{"kind": "code", "name": "total", "passed": True, "evidence": "Lead Ltd total"}],
    )
    counts = store.erase_items(["a"], "lead@x.example")
    assert proposals.all_versions(store, "a") == [] and proposals.plan(store, "a") == []
    assert proposals.checks_for(store, "a", version) == []
    assert counts["proposal_versions"] == 1
