"""What every batch agent asset shares: output rows with provenance, failure routing, metadata.

Metadata carries ids, counts and reason codes only, never message text, so erasing a contact
never has to touch Dagster's event log.
"""

import json
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import dagster as dg

from ops_assets.quality import failures as failure_log
from resources.llm.client import CallRequest, CallResult
from resources.llm.hashing import canonical_json, text_hash
from resources.llm.latency import summary
from resources.store import Store

# Inputs that never reach an agent.
NOT_FOR_AGENTS = ("quarantined", "duplicate")
# Deferrals that a re-run of the batch may pick up again.
RETRYABLE = ("model_unavailable", "budget_exhausted", "kill_switch")


def owner_row(
    item: dict[str, Any], asset: str, output: dict[str, Any], *, model: str | None
) -> dict[str, Any]:
    """An output row in the owner's words (a reply they wrote, a category they gave): no run,
    no prompt, no cost; `prompt_version` says `owner`."""
    return {
        "item_id": item["id"],
        "asset": asset,
        "batch": item["batch"],
        "run_id": None,
        "prompt_version": "owner",
        "model": model,
        "input_hash": None,
        "request_hash": None,
        "output": output,
        "output_hash": text_hash(canonical_json(output)),
        "valid": True,
        "failure": None,
        "tokens_in": 0,
        "tokens_out": 0,
        "cost_usd": 0.0,
        "cached": False,
        "memory_ids": [],
    }


def output_row(
    *,
    asset: str,
    batch: str,
    run_id: str,
    prompt_version: str,
    result: CallResult | None,
    output: dict[str, Any] | None,
    input_hash: str,
    failure: str | None,
    memory_ids: Sequence[str] = (),
) -> dict[str, Any]:
    return {
        "item_id": result.item_id if result else None,
        "asset": asset,
        "batch": batch,
        "run_id": run_id,
        "prompt_version": prompt_version,
        "model": result.model if result else None,
        "input_hash": input_hash,
        "request_hash": result.request_hash if result else None,
        "output": output,
        "output_hash": text_hash(canonical_json(output)) if output is not None else None,
        "valid": failure is None,
        "failure": failure,
        "tokens_in": result.tokens_in if result else 0,
        "tokens_out": result.tokens_out if result else 0,
        "cost_usd": result.cost_usd if result else 0.0,
        "cached": result.cached if result else False,
        "memory_ids": list(memory_ids),
    }


def messages_hash(messages: list[dict[str, str]]) -> str:
    return text_hash(json.dumps(messages, sort_keys=True))


def rest_after_failure(
    store: Store,
    item_id: str,
    result: CallResult,
    *,
    actor: str,
    expect: Sequence[str],
    on_budget: str = "defer",
) -> None:
    """A failed call never leaves an item in flight: defer what may succeed later (or hand a
    spent budget to the owner when the policy says so), hand the rest to the owner."""
    if not (result.error_code is not None):  # an invariant, kept under python -O
        raise RuntimeError("invariant broken: result.error_code is not None")
    target = "deferred" if result.error_code in RETRYABLE else "awaiting_human"
    if result.error_code == "budget_exhausted" and on_budget == "human":
        target = "awaiting_human"
    store.transition(
        item_id,
        target,
        actor=actor,
        reason_code=result.error_code,
        reason=result.error,
        expect=expect,
    )


def release_retryable(store: Store, items: list[dict[str, Any]], *, actor: str) -> None:
    for item in items:
        if (
            item["state"] == "deferred"
            and item["reason_code"] in RETRYABLE
            and store.transition(
                item["id"],
                "received",
                actor=actor,
                reason_code="retry",
                reason=f"retrying after {item['reason_code']}",
                expect=("deferred",),
            )
        ):
            item["state"] = "received"


# Past the reviewer: what goes out was reviewed (and maybe approved) as it stands.
SETTLED = ("awaiting_approval", "approved", "delivered")


def keep_output(store: Store, item: dict[str, Any], row: dict[str, Any]) -> None:
    """Save an agent's output row. A changed output for an item past review — approved,
    waiting for approval or delivered — never replaces what was reviewed on its way out: the
    item waits for the owner as a proposed correction. An item being sent keeps its output."""
    asset = row["asset"]
    previous = store.get_output(item["id"], asset)
    changed = previous is not None and previous["output_hash"] != row["output_hash"]
    if changed and item["state"] == "sending":
        return
    if (
        changed
        and item["state"] in SETTLED
        and not store.transition(
            item["id"],
            "awaiting_human",
            actor=asset,
            reason_code="proposed_correction",
            reason=f"{asset} output changed after review",
            expect=(item["state"],),
        )
    ):
        return  # it moved on meanwhile (sent, say): what it went out with stays the record
    store.save_output(row)


def batch_failure_rate(store: Store, items: list[dict[str, Any]], asset: str) -> tuple[int, int]:
    """(rows judged, rows failed) of an agent over a whole batch, from its stored output rows:
    a run that died half-way and its re-run count as one, so a crash cannot dilute the rate."""
    judged = failed = 0
    for item in items:
        row = store.get_output(item["id"], asset)
        if row is None or row["failure"] in RETRYABLE:
            continue
        judged += 1
        failed += not row["valid"]
    return judged, failed


def keep_answer(
    store: Store,
    item: dict[str, Any],
    request: CallRequest,
    result: CallResult,
    output: dict[str, Any] | None,
    failure: str | None,
    *,
    batch: str,
    run_id: str,
    memory_ids: Sequence[str] = (),
) -> dict[str, Any]:
    """Keep an answer's output row with its provenance (the memory it saw included) and, when
    it failed (its contract or a suite rule), record the failure with what the agent saw."""
    row = output_row(
        asset=request.agent,
        batch=batch,
        run_id=run_id,
        prompt_version=request.prompt_version,
        result=result,
        output=output,
        input_hash=messages_hash(request.messages),
        failure=failure,
        memory_ids=memory_ids,
    )
    keep_output(store, item, row)
    if failure:
        kind = failure_log.CHECK_FAILURE if output else failure_log.SCHEMA_ERROR
        failure_log.record_row_failure(
            store, row, kind=kind, reason=failure, messages=request.messages
        )
    return row


def holder_is_gone(context: dg.AssetExecutionContext) -> Callable[[str], bool]:
    return lock_holder_gone(context.instance)


def lock_holder_gone(instance: dg.DagsterInstance) -> Callable[[str], bool]:
    """For a store lock: is its holder gone? A run id holds it until its run has finished (or
    died and was marked failed); an operator's process (`erase-<pid>-...`) while it lives."""
    from resources.processes import pid_alive

    def gone(owner: str) -> bool:
        if owner.startswith("erase-"):
            pid = owner.split("-")[1]
            return not (pid.isdigit() and pid_alive(int(pid)))
        run = instance.get_run_by_id(owner)
        return run is None or run.is_finished

    return gone


def valid_output(store: Store, item_id: str, asset: str) -> dict[str, Any] | None:
    row = store.get_output(item_id, asset)
    return row["output"] if row is not None and row["valid"] else None


def final_draft(store: Store, item_id: str) -> dict[str, Any] | None:
    """The output row holding the reply: the reviewer's (maybe a repaired draft) when it
    reviewed the current draft, else the drafter's own — which delivery never sends
    (`reviewed_draft`)."""
    draft = store.get_output(item_id, "reply_draft")
    review = store.get_output(item_id, "review")
    if (
        draft is not None
        and review is not None
        and review["output"] is not None
        and review["output"].get("draft_hash") == draft["output_hash"]
        and review["output"].get("body")
    ):
        return review
    return draft


def reviewed_draft(store: Store, item_id: str) -> dict[str, Any] | None:
    """The reply that may go out: a valid review row for the current draft, or None."""
    row = final_draft(store, item_id)
    return row if row is not None and row["asset"] == "review" and row["valid"] else None


def batch_metadata(
    results: Sequence[CallResult],
    *,
    rows: int,
    prompt_version: str,
    model: str,
    failures: Counter[str],
    item_ids: Sequence[str],
) -> dict[str, Any]:
    return {
        "rows": rows,
        "model_calls": sum(
            1
            for r in results
            if not r.cached and r.error_code not in ("budget_exhausted", "model_unavailable")
        ),
        "cache_hits": sum(1 for r in results if r.cached),
        "tokens_in": sum(r.tokens_in for r in results),
        "tokens_out": sum(r.tokens_out for r in results),
        "cost_usd": dg.MetadataValue.float(round(float(sum(r.cost_usd for r in results)), 8)),
        "prompt_version": prompt_version,
        "model": model,
        "failures": sum(failures.values()),
        "failure_reasons": dg.MetadataValue.json(dict(failures)),
        "item_ids": dg.MetadataValue.json(list(item_ids)),
        **latency_metadata(results),
    }


def latency_metadata(results: Sequence[CallResult]) -> dict[str, Any]:
    """p50/p95 wall time of the batch's paid model calls (cache hits took no model time)."""
    measured = summary(r.latency_ms for r in results if r.latency_ms is not None and not r.cached)
    if measured is None:
        return {"model_call_latency_p50_ms": None, "model_call_latency_p95_ms": None}
    return {
        "model_call_latency_p50_ms": measured["p50_ms"],
        "model_call_latency_p95_ms": measured["p95_ms"],
    }
