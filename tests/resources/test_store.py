"""The canonical store: migrations, state machine, append-only audit, ledgers."""

import pytest
import sqlalchemy as sa

from resources.store import IllegalTransition, Store


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'store.sqlite'}")


def _item(item_id: str, **extra) -> dict:
    return {"id": item_id, "source": f"{item_id}.eml", "kind": "eml", **extra}


def test_migrations_are_idempotent_and_recorded(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    Store(url)
    store = Store(url)  # second start: nothing to do, nothing breaks
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("select version_num from alembic_version")).scalar() == "0008"
        assert conn.execute(sa.text("pragma journal_mode")).scalar() == "wal"


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
    for statement in ("update audit_log set actor = 'x'", "delete from audit_log"):
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
