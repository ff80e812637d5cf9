"""A batch whose runs died gets a new attempt, and after three its items go to the owner;
deferred work carries when it is next tried, and is released when that time comes."""

import datetime as dt
import time

import dagster as dg
import pytest
from support import SAMPLES, batch_assets, drop

from resources.settings.config import load_config
from sensors.intake import tick
from sensors.recovery import MAX_BATCH_ATTEMPTS, recover_batches


def _failed_run(bench, key: str, attempt: int) -> None:
    run = dg.DagsterRun(
        job_name="process_batch",
        run_id=f"{attempt:0>36}",
        status=dg.DagsterRunStatus.STARTED,
        tags={"opsbench/batch": key, "opsbench/attempt": str(attempt)},
    )
    bench.instance.add_run(run)
    bench.instance.report_run_failed(bench.instance.get_run_by_id(run.run_id), "killed")


def test_a_dead_batch_is_retried_then_handed_to_the_owner(bench) -> None:
    drop(bench.home.inbox, sorted(SAMPLES.iterdir())[:3])
    (key,) = tick(bench.store, bench.home, load_config()).batches
    assert recover_batches(bench.instance, bench.store, grace_s=0) == []  # never ran: wait
    for attempt in range(MAX_BATCH_ATTEMPTS):
        _failed_run(bench, key, attempt)
        assert recover_batches(bench.instance, bench.store, grace_s=3600) == []  # grace
        assert recover_batches(bench.instance, bench.store, grace_s=0) == [key]
    items = bench.store.items(batch=key)
    assert {(i["state"], i["reason_code"]) for i in items} == {("awaiting_human", "run_failed")}
    assert not bench.store.pending_batches()


def test_a_dead_batch_never_relabels_what_delivery_holds(bench) -> None:
    """Items past the gate (approved, sending) belong to delivery: a send in doubt must keep
    its own way to the owner ("may have arrived"), never become run_failed."""
    drop(bench.home.inbox, sorted(SAMPLES.iterdir())[:3])
    (key,) = tick(bench.store, bench.home, load_config()).batches
    first, *rest = bench.store.items(batch=key)
    for state in ("triaged", "drafted", "reviewed", "approved", "sending"):
        bench.store.transition(first["id"], state, actor="test")
    for attempt in range(MAX_BATCH_ATTEMPTS):
        _failed_run(bench, key, attempt)
        recover_batches(bench.instance, bench.store, grace_s=0)
    assert bench.store.get_item(first["id"])["state"] == "sending"
    assert {bench.store.get_item(i["id"])["reason_code"] for i in rest} == {"run_failed"}


def test_a_failed_drain_is_asked_for_again_in_the_next_window() -> None:
    from sensors.outcomes import RETRY_WINDOW_S, outcomes_run_key

    rows = [{"id": "a", "state": "approved", "updated_at": "t1"}]
    assert outcomes_run_key(rows, now=0) == outcomes_run_key(rows, now=RETRY_WINDOW_S - 1)
    assert outcomes_run_key(rows, now=0) != outcomes_run_key(rows, now=RETRY_WINDOW_S)
    moved = [{"id": "a", "state": "sending", "updated_at": "t2"}]
    assert outcomes_run_key(rows, now=0) != outcomes_run_key(moved, now=0)


# ------------------------------------------------------------------ deferred work resumes
def test_model_backoff_doubles_per_attempt_up_to_its_cap() -> None:
    from resources.settings.config import load_config
    from sensors.deferred import model_backoff

    config = load_config()
    waits = [model_backoff(n, config).total_seconds() for n in range(1, 9)]
    assert waits == [60, 120, 240, 480, 960, 1920, 3600, 3600]


@pytest.mark.parametrize(
    ("zone", "now", "resets"),
    [
        ("UTC", "2026-01-14T15:00:00+00:00", "2026-01-15T00:00:00+00:00"),
        # West of UTC the owner's midnight comes after the ledger's.
        ("America/New_York", "2026-01-14T15:00:00+00:00", "2026-01-15T05:00:00+00:00"),
        # Around the day DST starts there: their midnight moves from 05:00 to 04:00 UTC.
        ("America/New_York", "2026-03-07T15:00:00+00:00", "2026-03-08T05:00:00+00:00"),
        ("America/New_York", "2026-03-08T12:00:00+00:00", "2026-03-09T04:00:00+00:00"),
        # Spent after the ledger's UTC midnight but before theirs: the ledger's day must end.
        ("America/New_York", "2026-01-15T03:00:00+00:00", "2026-01-16T00:00:00+00:00"),
        # East of UTC: their midnight, once the ledger's UTC day has turned too.
        ("Asia/Tokyo", "2026-01-14T20:00:00+00:00", "2026-01-15T15:00:00+00:00"),
        ("Europe/Lisbon", "2026-07-01T22:30:00+00:00", "2026-07-02T00:00:00+00:00"),
    ],
)
def test_a_spent_budget_resets_at_the_owners_midnight(zone: str, now: str, resets: str) -> None:
    from sensors.deferred import budget_resets_at

    moment = dt.datetime.fromisoformat(now)
    assert budget_resets_at(moment, zone) == dt.datetime.fromisoformat(resets)


def test_an_unknown_owner_time_zone_is_a_config_error(tmp_path) -> None:
    import yaml

    from resources.settings.config import SAMPLE_CONFIG, ConfigError

    config = yaml.safe_load(SAMPLE_CONFIG.read_text())
    config["identity"]["timezone"] = "Mars/Olympus"
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match=r"identity\.timezone: .*unknown time zone"):
        load_config(path)


def _deferred_item(bench, reason: str = "model_unavailable") -> str:
    drop(bench.home.inbox, sorted(SAMPLES.iterdir())[:1])
    tick(bench.store, bench.home, load_config())
    (item,) = bench.store.items(states=["received"])
    bench.store.transition(item["id"], "deferred", actor="test", reason_code=reason)
    return str(item["id"])


def _schedule(bench, now: dt.datetime):
    from sensors.deferred import deferrals

    (found,) = deferrals(bench.store, load_config(), now)
    return found


def test_a_failed_probe_pushes_the_next_try_and_a_later_outage_starts_afresh(bench) -> None:
    from sensors.deferred import resume_deferred

    config, start = load_config(), dt.datetime(2026, 1, 14, 15, 0, tzinfo=dt.UTC)
    item_id = _deferred_item(bench)
    probes: list[bool] = []

    def probe(answer: bool):
        def healthy() -> bool:
            probes.append(answer)
            return answer

        return healthy

    # Recorded on first sight; not due: no probe.
    assert resume_deferred(bench.store, config, now=start, model_healthy=probe(True)) == []
    first = _schedule(bench, start)
    assert (first.attempt, first.recorded) == (1, True)
    assert first.next_try == start + dt.timedelta(seconds=60) and probes == []
    later = start + dt.timedelta(seconds=60)
    assert resume_deferred(bench.store, config, now=later, model_healthy=probe(False)) == []
    second = _schedule(bench, later)
    assert second.attempt == 2 and second.next_try == later + dt.timedelta(seconds=120)
    due = later + dt.timedelta(seconds=120)
    (batch,) = resume_deferred(bench.store, config, now=due, model_healthy=probe(True))
    assert probes == [False, True]
    item = bench.store.get_item(item_id)
    assert (item["state"], item["batch"], item["reason_code"]) == ("received", batch, "resumed")
    assert batch in [b["key"] for b in bench.store.pending_batches()]

    # Down again on that try: the backoff goes on from where it was.
    bench.store.transition(item_id, "deferred", actor="test", reason_code="model_unavailable")
    assert _schedule(bench, due).attempt == 3
    # Once it came to rest otherwise, a new outage starts from the first step.
    resume_deferred(bench.store, config, now=due, model_healthy=probe(True))
    bench.store.transition(item_id, "received", actor="test")
    bench.store.transition(item_id, "awaiting_human", actor="test", reason_code="x")
    bench.store.transition(item_id, "received", actor="test")
    bench.store.transition(item_id, "deferred", actor="test", reason_code="model_unavailable")
    assert _schedule(bench, due).attempt == 1


def test_kill_switch_items_wait_for_resume_not_for_a_clock(bench) -> None:
    from ops_assets.governance import controls
    from sensors.deferred import resume_deferred

    item_id = _deferred_item(bench, "kill_switch")
    far = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    assert _schedule(bench, far).next_try is None
    assert resume_deferred(bench.store, load_config(), now=far, model_healthy=lambda: True) == []
    assert bench.store.get_item(item_id)["state"] == "deferred"
    assert controls.resume(bench.store)["received"] == 1


def test_the_kill_switch_holds_batches_no_run_is_working_on(bench) -> None:
    from sensors.recovery import hold_for_kill_switch

    config = load_config()
    samples = sorted(SAMPLES.iterdir())
    drop(bench.home.inbox, samples[:2])
    (idle,) = tick(bench.store, bench.home, config).batches
    drop(bench.home.inbox, samples[2:4])
    (busy,) = tick(bench.store, bench.home, config, now=time.time() + 1).batches
    bench.instance.add_run(
        dg.DagsterRun(
            job_name="process_batch",
            run_id="1" * 36,
            status=dg.DagsterRunStatus.STARTED,
            tags={"opsbench/batch": busy, "opsbench/attempt": "0"},
        )
    )
    assert hold_for_kill_switch(bench.instance, bench.store) == 2
    assert {i["reason_code"] for i in bench.store.items(batch=idle)} == {"kill_switch"}
    assert {i["state"] for i in bench.store.items(batch=busy)} == {"received"}


def test_the_kill_switch_holds_approved_replies_and_resume_gives_them_back(bench) -> None:
    from ops_assets.governance import controls
    from sensors.recovery import hold_for_kill_switch

    key = bench.intake()
    bench.materialize(batch_assets(), key)
    approved = {i["id"] for i in bench.store.items(states=["approved"])}
    assert approved
    controls.kill(bench.store)
    assert hold_for_kill_switch(bench.instance, bench.store) == len(approved)
    held = bench.store.items(states=["deferred"])
    assert {i["id"] for i in held} == approved and {i["reason_code"] for i in held} == {
        "kill_switch"
    }
    assert controls.resume(bench.store)["approved"] == len(approved)
