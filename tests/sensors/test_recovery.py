"""A batch whose runs died gets a new attempt, and after three its items go to the owner."""

import dagster as dg
from support import SAMPLES, drop

from ops_assets.config import load_config
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


def test_a_failed_drain_is_asked_for_again_in_the_next_window() -> None:
    from sensors.outcomes import RETRY_WINDOW_S, outcomes_run_key

    rows = [{"id": "a", "state": "approved", "updated_at": "t1"}]
    assert outcomes_run_key(rows, now=0) == outcomes_run_key(rows, now=RETRY_WINDOW_S - 1)
    assert outcomes_run_key(rows, now=0) != outcomes_run_key(rows, now=RETRY_WINDOW_S)
    moved = [{"id": "a", "state": "sending", "updated_at": "t2"}]
    assert outcomes_run_key(rows, now=0) != outcomes_run_key(moved, now=0)
