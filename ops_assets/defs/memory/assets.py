"""The episodic_memory asset: every resting item's message, decision, outcome and the owner's
corrections as embedded, searchable rows with provenance."""

from collections.abc import Iterator

import dagster as dg

from ops_assets.agents.agent_run import holder_is_gone
from ops_assets.defs.memory.episodes import episodes
from resources.memory import EPISODIC, WRITE_LOCK, MemoryResource
from resources.scopes import require_scope
from resources.settings import SettingsResource
from resources.store import RESTING
from resources.store.resource import StoreResource


# A run that finds nothing new, or the memory lock held, did nothing: it records no
# materialization.
@dg.asset(group_name="outcomes", kinds={"lancedb"}, deps=["delivery"], output_required=False)
def episodic_memory(
    context: dg.AssetExecutionContext,
    settings: SettingsResource,
    store: StoreResource,
    memory: MemoryResource,
) -> Iterator[dg.MaterializeResult]:
    """Every item's story as searchable episodes (item, run, asset, prompt, model, time)."""
    st, run_id = store.get(), context.run.run_id
    require_scope(st, "memory", "memory:write", settings.policy().scopes)
    mem = memory.get(st)
    if not st.unremembered() and not mem.legacy(EPISODIC):
        # Nothing new: the lock stays free for the writers that have work (an archivist
        # launched just then would otherwise find it held and consolidate nothing).
        context.log.info("nothing new to remember")
        return
    # One memory writer at a time: an erase must never race a write of the rows it removes.
    # Another writer is waited for (runs overlap: the sensor launches the next while one
    # remembers); rows skipped after the wait stay unremembered for the sensor's next window.
    # Renewed while the write runs: a long rebuild is never taken for a dead holder.
    wait_s = settings.config().memory.lock_wait_s
    with st.holding_lock(WRITE_LOCK, run_id, holder_is_gone(context), wait_s=wait_s) as held:
        if not held:
            context.log.info("another run (or an erase) is writing memory; this one leaves it")
            return
        pending = st.unremembered()
        if mem.legacy(EPISODIC):
            # Written before memory had vectors: rebuilt whole from the store (derived data).
            mem.drop(EPISODIC)
            pending = st.items(states=RESTING)
        rows = [row for item in pending for row in episodes(st, item, run_id)]
        written = mem.write(EPISODIC, rows)
        # Marked only after the write: a crash in between re-writes the same rows (same ids).
        for item in pending:
            st.update_fields(item["id"], remembered_state=item["state"])
    kinds: dict[str, int] = {}
    for row in rows:
        kinds[row["kind"]] = kinds.get(row["kind"], 0) + 1
    yield dg.MaterializeResult(
        metadata={
            "rows": written,
            "rows_by_kind": dg.MetadataValue.json(kinds),
            "table_rows": mem.count(EPISODIC),
            "table_version": mem.version(EPISODIC) or 0,
            "embedding_model": mem.embedding(EPISODIC).get("embedding_model", ""),
            "item_ids": dg.MetadataValue.json([i["id"] for i in pending]),
        }
    )
