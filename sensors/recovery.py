"""Batches whose run died: run them again under a new attempt, or hand them to the owner.

Dagster launches a run key once and retries a failed run as dagster.yaml says; after that a
batch with unfinished items would wait forever. Each sensor tick (and the headless runner)
looks at the runs of every pending batch's current attempt: when all of them finished, the
newest ended more than `grace_s` ago, and items are still unfinished, the attempt is bumped so
the batch gets a fresh run key — at most MAX_BATCH_ATTEMPTS times, then its unfinished items
go to `awaiting_human` with reason `run_failed`. While the kill switch is on, items of batches
no run works on rest as deferred / kill_switch instead (`opsbench resume` releases them).
"""

import time

import dagster as dg

from ops_assets.orchestration.workflows import batch_owned
from resources.store import Store
from resources.store.states import BATCH_PENDING

MAX_BATCH_ATTEMPTS = 3
# Before review the state machine lets an item be deferred (a reviewed one waits for the gate).
HOLDABLE = ("received", "triaged", "drafted")
BATCH_TAG, ATTEMPT_TAG = "opsbench/batch", "opsbench/attempt"


def runs_for_attempt(instance: dg.DagsterInstance, key: str, attempt: int) -> list[dg.DagsterRun]:
    tags = {BATCH_TAG: key, ATTEMPT_TAG: str(attempt)}
    return list(instance.get_runs(filters=dg.RunsFilter(tags=tags)))


def recover_batches(
    instance: dg.DagsterInstance, store: Store, *, grace_s: float = 60.0, now: float | None = None
) -> list[str]:
    """Returns the keys of the batches it moved on (bumped or handed to a human)."""
    now = time.time() if now is None else now
    moved = []
    for batch in store.pending_batches():
        unfinished = unfinished_items(store, batch["key"])
        if not unfinished:
            continue  # what is left belongs to a workflow with its own job (proposals)
        runs = runs_for_attempt(instance, batch["key"], batch["attempt"])
        if not runs or not all(run.is_finished for run in runs):
            continue  # not launched yet, or still running
        ended = [
            r.end_time
            for r in (instance.get_run_record_by_id(run.run_id) for run in runs)
            if r and r.end_time
        ]
        if ended and now - max(ended) < grace_s:
            continue  # give Dagster's own run retry its chance first
        if batch["attempt"] + 1 >= MAX_BATCH_ATTEMPTS:
            # Approved and sending items belong to delivery (a send in doubt has its own way).
            for item in unfinished:
                store.transition(
                    item["id"],
                    "awaiting_human",
                    actor="recovery",
                    reason_code="run_failed",
                    reason=f"batch {batch['key']} did not finish in {MAX_BATCH_ATTEMPTS} attempts",
                )
        else:
            store.audit(
                None,
                "recovery",
                "batch_retry",
                {"batch": batch["key"], "attempt": batch["attempt"] + 1},
            )
        store.bump_batch_attempt(batch["key"])
        moved.append(batch["key"])
    return moved


def unfinished_items(store: Store, batch: str) -> list[dict]:  # type: ignore[type-arg]
    """The batch's items its own job still has to move: not those a workflow with its own job
    (not per batch) drains, which a new batch attempt would never move."""
    return [i for i in store.items(batch=batch, states=BATCH_PENDING) if batch_owned(i)]


def hold_for_kill_switch(instance: dg.DagsterInstance, store: Store) -> int:
    """With the kill switch on no batch run starts, so items of batches with no run under way
    rest visibly as deferred / kill_switch (`opsbench resume` puts them back) instead of
    waiting as `received`. A running batch defers its own items at its next model call.
    Approved replies wait too (no drain starts while the switch is on): compare-and-set from
    `approved`, so a drain that took one first keeps it, and resume puts them back as approved."""
    held = 0
    for item in store.items(states=["approved"]):
        held += store.transition(
            item["id"],
            "deferred",
            actor="kill_switch",
            reason_code="kill_switch",
            reason="held by the kill switch before its send",
            expect=("approved",),
        )
    for batch in store.pending_batches():
        runs = runs_for_attempt(instance, batch["key"], batch["attempt"])
        if any(not run.is_finished for run in runs):
            continue
        for item in store.items(batch=batch["key"], states=HOLDABLE):
            if not batch_owned(item):
                continue  # its workflow's job defers it at its next model call
            held += store.transition(
                item["id"],
                "deferred",
                actor="kill_switch",
                reason_code="kill_switch",
                reason="held by the kill switch before its batch ran",
                expect=(item["state"],),
            )
    return held
