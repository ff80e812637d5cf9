"""Workflows own their routes: an item on the proposals route is never drained by the reply
delivery, retried or handed over by batch recovery, followed up as a reply or held by a
reply agent's batch check; the owner's verbs reach the proposal's own."""

import dagster as dg
from support import SAMPLES, drop, outcome_assets

from resources.settings.config import load_config
from sensors.intake import tick
from sensors.recovery import MAX_BATCH_ATTEMPTS, recover_batches


def _batch(bench, count: int = 3) -> tuple[str, list[dict]]:
    drop(bench.home.inbox, sorted(SAMPLES.iterdir())[:count])
    (key,) = tick(bench.store, bench.home, load_config()).batches
    bench.add_batch_partition(key)
    return key, bench.store.items(batch=key)


def _to_proposals(bench, item: dict, *states: str) -> None:
    bench.store.transition(item["id"], "triaged", actor="test", route="proposals")
    for state in states:
        bench.store.transition(item["id"], state, actor="test")


def test_the_reply_delivery_leaves_an_approved_proposal_alone(bench) -> None:
    """The hole: the reply drain took every `approved` item and, finding no reviewed reply,
    handed an approved proposal to the owner as `no_valid_draft`."""
    _, (proposal, *_) = _batch(bench)
    _to_proposals(bench, proposal, "drafted", "reviewed", "approved")
    assert bench.materialize(outcome_assets()).success
    current = bench.store.get_item(proposal["id"])
    assert (current["state"], current["reason_code"]) == ("approved", None)
    assert bench.store.deliveries_for(proposal["id"]) == []


def test_an_approved_proposal_starts_no_reply_delivery_run(bench) -> None:
    """The hole: the outcomes sensor counted every approved item as ready to send, so while a
    proposal waited for its own delivery (an SMTP server down) it launched a run of the reply
    drain, which leaves proposals alone, every ten minutes."""
    from sensors.outcomes import outcomes_sensor

    _, (proposal, *rest) = _batch(bench)
    _to_proposals(bench, proposal, "drafted", "reviewed", "approved")
    for item in rest:
        bench.store.transition(item["id"], "no_action", actor="test")
        bench.store.update_fields(item["id"], remembered_state="no_action")
    with dg.build_sensor_context(instance=bench.instance, resources=bench.resources) as context:
        result = outcomes_sensor(context)
    assert isinstance(result, dg.SkipReason), result


def _failed_run(bench, key: str, attempt: int) -> None:
    run = dg.DagsterRun(
        job_name="process_batch",
        run_id=f"{attempt:0>36}",
        status=dg.DagsterRunStatus.STARTED,
        tags={"opsbench/batch": key, "opsbench/attempt": str(attempt)},
    )
    bench.instance.add_run(run)
    bench.instance.report_run_failed(bench.instance.get_run_by_id(run.run_id), "killed")


def test_batch_recovery_neither_retries_nor_hands_over_a_proposals_item(bench) -> None:
    """The hole: a batch whose replies were done but held a lead in `triaged` (the proposals
    job's to move) was run again and again, then its lead handed over as `run_failed`."""
    key, (lead, drafted, *rest) = _batch(bench)
    _to_proposals(bench, lead)
    _to_proposals(bench, drafted, "drafted")
    for item in rest:
        bench.store.transition(item["id"], "no_action", actor="test")
    for attempt in range(MAX_BATCH_ATTEMPTS):
        _failed_run(bench, key, attempt)
        assert recover_batches(bench.instance, bench.store, grace_s=0) == []
    assert bench.store.get_item(lead["id"])["state"] == "triaged"
    assert bench.store.get_item(drafted["id"])["state"] == "drafted"


def test_a_dead_batch_still_hands_its_replies_over_but_not_its_leads(bench) -> None:
    key, (lead, *replies) = _batch(bench)
    _to_proposals(bench, lead)
    for attempt in range(MAX_BATCH_ATTEMPTS):
        _failed_run(bench, key, attempt)
        assert recover_batches(bench.instance, bench.store, grace_s=0) == [key]
    assert {bench.store.get_item(i["id"])["reason_code"] for i in replies} == {"run_failed"}
    assert bench.store.get_item(lead["id"])["state"] == "triaged"


def test_a_blocked_reply_batch_holds_only_its_own_items(bench) -> None:
    from ops_assets.quality.batch_checks import hold_if_blocked

    key, (proposal, reply, *_) = _batch(bench)
    _to_proposals(bench, proposal, "drafted")
    bench.store.transition(reply["id"], "triaged", actor="test", route="reply_draft")
    bench.store.transition(reply["id"], "drafted", actor="test")
    bench.store.save_output(
        {
            "item_id": reply["id"],
            "asset": "reply_draft",
            "batch": key,
            "run_id": "r",
            "output": None,
            "valid": False,
            "failure": "empty",
            "model": "m",
            "prompt_version": "p",
        }
    )
    mine = [bench.store.get_item(reply["id"])]
    rate = hold_if_blocked(
        bench.store, mine, "reply_draft", batch=key, stage="drafted", actor="t", limit=0.0
    )
    assert rate.blocked
    assert bench.store.get_item(reply["id"])["reason_code"] == "batch_blocked"
    assert bench.store.get_item(proposal["id"])["state"] == "drafted"


def test_workflows_are_found_by_their_declarations() -> None:
    from ops_assets.orchestration.workflows import routes, workflows

    found = workflows()
    assert set(found) >= {"reply_draft", "proposals"}
    assert found["reply_draft"].per_batch and found["reply_draft"].job == "process_batch"
    assert found["proposals"].job == "run_proposals" and not found["proposals"].per_batch
    assert {"human", "no_action", "reply_draft", "proposals"} <= set(routes())
