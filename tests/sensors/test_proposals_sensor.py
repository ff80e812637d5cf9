"""The proposals sensor: it launches `run_proposals` when items on the proposals route wait in
a state the job moves, once per snapshot of what waits, never beside a run under way, and
not at all for replies or while the kill switch is on."""

import dagster as dg
from support import SAMPLES, drop

from resources.settings.config import load_config
from sensors.intake import tick
from sensors.proposals import RETRY_WINDOW_S, proposals_run_key, proposals_sensor


def _evaluate(bench, cursor: str | None = None) -> dg.SensorResult | dg.SkipReason:
    with dg.build_sensor_context(
        instance=bench.instance, resources=bench.resources, cursor=cursor
    ) as context:
        return proposals_sensor(context)


def _items(bench) -> list[dict]:
    drop(bench.home.inbox, sorted(SAMPLES.iterdir())[:2])
    (key,) = tick(bench.store, bench.home, load_config()).batches
    return bench.store.items(batch=key)


def test_it_launches_for_a_waiting_lead_once_per_snapshot(bench) -> None:
    lead, reply = _items(bench)
    bench.store.transition(reply["id"], "triaged", actor="test", route="reply_draft")
    assert isinstance(_evaluate(bench), dg.SkipReason)  # a reply is not its work

    bench.store.transition(lead["id"], "triaged", actor="test", route="proposals")
    result = _evaluate(bench)
    assert isinstance(result, dg.SensorResult)
    (request,) = result.run_requests
    assert request.run_key == result.cursor and request.run_key.startswith("proposals-")
    assert request.tags["opsbench/trigger"] == "proposals"
    assert isinstance(_evaluate(bench, cursor=result.cursor), dg.SkipReason)  # launched

    bench.store.transition(lead["id"], "drafted", actor="test")  # the snapshot moved on
    moved = _evaluate(bench, cursor=result.cursor)
    assert isinstance(moved, dg.SensorResult)
    assert moved.run_requests[0].run_key != request.run_key


def test_it_waits_for_a_run_under_way_and_for_the_kill_switch(bench) -> None:
    lead, _ = _items(bench)
    bench.store.transition(lead["id"], "triaged", actor="test", route="proposals")
    run = dg.DagsterRun(
        job_name="run_proposals", run_id="1" * 36, status=dg.DagsterRunStatus.STARTED
    )
    bench.instance.add_run(run)
    skipped = _evaluate(bench)
    assert isinstance(skipped, dg.SkipReason) and "under way" in (skipped.skip_message or "")
    bench.instance.report_run_failed(bench.instance.get_run_by_id(run.run_id), "done")
    assert isinstance(_evaluate(bench), dg.SensorResult)
    bench.store.set_control("kill_switch", "on", actor="test")
    assert isinstance(_evaluate(bench), dg.SkipReason)


def test_unfinished_work_is_asked_for_again_in_the_next_window() -> None:
    rows = [{"id": "a", "state": "triaged", "updated_at": "t1"}]
    assert proposals_run_key(rows, now=0) == proposals_run_key(rows, now=RETRY_WINDOW_S - 1)
    assert proposals_run_key(rows, now=0) != proposals_run_key(rows, now=RETRY_WINDOW_S)
