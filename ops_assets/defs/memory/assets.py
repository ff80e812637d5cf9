"""The episodic_memory asset: one LanceDB row per item and resting outcome, with provenance."""

import dagster as dg

from ops_assets.agent_run import NOT_FOR_AGENTS, final_draft
from resources.memory import MemoryResource
from resources.store.resource import StoreResource

MAX_TEXT = 2000


@dg.asset(group_name="memory", kinds={"lancedb"}, deps=["delivery"])
def episodic_memory(
    context: dg.AssetExecutionContext, store: StoreResource, memory: MemoryResource
) -> dg.MaterializeResult:
    """Every item's outcome as a searchable episode (item, batch, run, asset, prompt, model)."""
    st = store.get()
    pending = st.unremembered()
    rows = []
    for item in pending:
        source = None
        if item["state"] not in NOT_FOR_AGENTS:
            source = final_draft(st, item["id"]) or st.get_output(item["id"], "triage")
        summary = ((st.get_output(item["id"], "triage") or {}).get("output") or {}).get(
            "summary", ""
        )
        rows.append(
            {
                "row_id": f"{item['id']}:{item['state']}",
                "item_id": item["id"],
                "batch": item["batch"] or "",
                "run_id": context.run.run_id,
                "asset": source["asset"] if source else "intake",
                "prompt_version": (source or {}).get("prompt_version") or "",
                "model": (source or {}).get("model") or "",
                "contact": item["sender"] or "",
                "kind": "outcome",
                "state": item["state"],
                "reason_code": item["reason_code"] or "",
                "category": item["category"] or "",
                "text": f"{item['subject'] or ''}\n{summary}\n{(item['body'] or '')[:MAX_TEXT]}",
                "created_at": item["updated_at"],
            }
        )
    written = memory.episodic().upsert(rows)
    for item in pending:
        st.update_fields(item["id"], remembered_state=item["state"])
    return dg.MaterializeResult(
        metadata={"rows": written, "item_ids": dg.MetadataValue.json([i["id"] for i in pending])}
    )
