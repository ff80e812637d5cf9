"""The follow-up schedule: once a day at the owner's hour it launches a run whose `follow_ups`
asset registers the nudges (visible in lineage); an unanswered reply gets a drafted nudge that
goes through review and the approval gate; an answered one does not; none is made twice."""

import datetime as dt

import dagster as dg
from support import batch_assets, outcome_assets, permissive_policy

from ops_assets.defs.follow_ups.assets import follow_ups
from ops_assets.orchestration.follow_ups import KIND, follow_up_id
from sensors.follow_ups import follow_up_schedule

PRIYA = "priya@harbourbakery.example"


def _made(bench) -> list[dict]:
    return [i for i in bench.store.items() if i["kind"] == KIND]


def _tick(bench, when: dt.datetime):
    from location.definitions import defs

    with dg.build_schedule_context(
        instance=bench.instance,
        resources=bench.resources,
        scheduled_execution_time=when,
        repository_def=defs.get_repository_def(),
    ) as context:
        return follow_up_schedule.evaluate_tick(context)


def _evaluate(bench, days_later: float):
    """The schedule's tick at 09:00 (the sample config's hour, UTC) that many days on, and the
    run it asks for."""
    day = dt.datetime.now(dt.UTC) + dt.timedelta(days=days_later)
    tick = _tick(bench, day.replace(hour=9, minute=0, second=0, microsecond=0))
    (request,) = tick.run_requests
    assert bench.materialize([follow_ups], tags=request.tags).success
    return request


def test_the_schedule_asks_for_a_run_once_a_day_at_the_owners_hour(
    bench, tmp_path, monkeypatch
) -> None:
    import yaml

    from resources.settings.config import SAMPLE_CONFIG

    config = yaml.safe_load(SAMPLE_CONFIG.read_text())
    config["identity"]["timezone"] = "America/New_York"
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("OPSBENCH_CONFIG", str(tmp_path / "c.yaml"))
    at_nine_utc = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)
    assert not _tick(bench, at_nine_utc).run_requests  # 04:00 in New York
    (request,) = _tick(bench, dt.datetime(2026, 12, 1, 14, tzinfo=dt.UTC)).run_requests
    assert request.run_key == "follow-ups-2026-12-01"  # the owner's day, not UTC's


def test_unanswered_replies_get_one_reviewed_follow_up_held_for_the_owner(
    bench, monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("OPSBENCH_POLICY", str(permissive_policy(tmp_path / "p.yaml")))
    key = bench.intake()
    bench.materialize(batch_assets(), key)
    bench.materialize(outcome_assets())
    delivered = {i["id"]: i for i in bench.store.items(states=["delivered"])}
    assert len(delivered) >= 2

    assert not _made(bench)
    _evaluate(bench, days_later=1)
    assert not _made(bench)  # too early

    # Priya wrote again after our reply: she gets no nudge.
    answer = tmp_path / "answer.json"
    answer.write_text(
        f'{{"from": "{PRIYA}", "subject": "Thanks", "body": "All good now, thank you!"}}'
    )
    bench.intake([answer])
    _evaluate(bench, days_later=4)
    # The scheduled run registered the batch; the inbox sensor launches it like any batch.
    made = _made(bench)
    (batch,) = {i["batch"] for i in made}
    bench.add_batch_partition(batch)
    waiting = {i["id"] for i in delivered.values() if i["sender"] != PRIYA}
    assert {i["source"].split(":", 1)[1] for i in made} == waiting
    assert all(i["kind"] == KIND and i["state"] == "triaged" for i in made)

    monkeypatch.delenv("OPSBENCH_POLICY")  # the sample policy: follow-ups wait for the owner
    bench.materialize(batch_assets(), batch)
    for item in bench.store.items(batch=batch):
        assert (item["state"], item["reason_code"]) == ("awaiting_approval", "follow_up")
        assert bench.store.get_output(item["id"], "review")["valid"]
        original = delivered[item["source"].split(":", 1)[1]]
        (reply,) = bench.store.deliveries_for(original["id"])
        assert item["message_id"] == f"<{reply['id']}@northwind.example>"  # under our reply

    # No second follow-up for the same reply, and none for a follow-up.
    _evaluate(bench, days_later=10)
    assert len(_made(bench)) == len(made)
    assert all(bench.store.get_item(follow_up_id(i)) is not None for i in waiting)
