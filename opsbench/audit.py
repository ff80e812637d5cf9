"""`opsbench audit ITEM`: the whole story of one item — input, every model call (prompt
version, model, tokens, cost, cached or not), checks, approvals, deliveries and the audit
trail from the store, and the runs that touched it from the Dagster event log."""

from typing import Any

from resources.settings.home import Home
from resources.store import Store


def item_story(home: Home, store: Store, item_id: str) -> dict[str, Any] | None:
    item = store.get_item(item_id)
    if item is None:
        return None
    calls = store.calls_for_item(item_id)
    for call in calls:
        if call["cached"]:
            call["cost_usd"] = 0.0  # paid once, by the first use
    outputs = store.outputs_for(item_id)
    return {
        "item": {
            k: item[k]
            for k in (
                "id",
                "source",
                "kind",
                "batch",
                "sender",
                "subject",
                "category",
                "urgency",
                "state",
                "reason_code",
                "reason",
                "duplicate_of",
                "flags",
                "original_path",
                "created_at",
            )
        },
        "model_calls": calls,
        "cost_usd": round(sum(c["cost_usd"] for c in calls), 8),
        "checks": [
            {
                "asset": o["asset"],
                "valid": o["valid"],
                "failure": o["failure"],
                "prompt_version": o["prompt_version"],
                "model": o["model"],
            }
            for o in outputs
        ],
        # Which stage of the triage cascade decided, with what confidence (rules, classifier,
        # model or the owner), as the audit trail recorded it.
        "triage_decision": _triage_decision(store.audit_for(item_id)),
        "failures": [
            {k: f[k] for k in ("at", "agent", "kind", "reason", "prompt_version", "model")}
            for f in store.failures(item_id=item_id)
        ],
        "approvals": store.approvals_for(item_id),
        # Which memory rows each agent's prompt carried (ids and table versions, no text).
        "memory_context": [
            {k: m[k] for k in ("agent", "row_ids", "versions", "tokens", "budget", "embedder")}
            for m in store.memory_contexts([item_id])
        ],
        "deliveries": store.deliveries_for(item_id),
        "audit": store.audit_for(item_id),
        "runs": _runs(
            home,
            {c["run_id"] for c in calls if c["run_id"]}
            | {o["run_id"] for o in outputs if o["run_id"]},
        ),
    }


def _triage_decision(audit: list[dict[str, Any]]) -> dict[str, Any] | None:
    decided = [
        e["detail"]
        for e in audit
        if e["event"] == "state" and "stage" in (e["detail"] or {})
        and e["actor"] in ("triage", "triage_rules", "triage_checks")
    ]  # fmt: skip
    if not decided:
        return None
    return {k: v for k, v in decided[-1].items() if k not in ("from", "to", "reason_code")}


def _runs(home: Home, run_ids: set[str]) -> list[dict[str, Any]]:
    import dagster as dg

    runs = []
    with dg.DagsterInstance.from_config(str(home.dagster)) as instance:
        for run_id in sorted(run_ids):
            run = instance.get_run_by_id(run_id)
            if run is not None:
                runs.append(
                    {
                        "run_id": run_id,
                        "job": run.job_name,
                        "status": run.status.value,
                        "partition": run.tags.get("dagster/partition"),
                        "trigger": run.tags.get("opsbench/trigger"),
                    }
                )
    return runs
