"""The archivist's schedule: every hour, consolidate what episodic memory gained into facts.
Hourly, not per event: consolidation reads many rows per contact at once, and facts are
context for later mail, never for the mail that produced them."""

import dagster as dg

from ops_assets.defs.jobs import ARCHIVIST_JOB
from resources.memory import EPISODIC, Memory, MemoryResource
from resources.store import Store
from resources.store.resource import StoreResource


def pending_rows(memory: Memory, st: Store) -> int:
    """Episodic rows the archivist has not read yet (an estimate by count: no model loaded)."""
    return max(0, memory.count(EPISODIC) - len(st.archived_row_ids()))


@dg.schedule(
    job_name=ARCHIVIST_JOB,
    cron_schedule="17 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Consolidates new episodic memory into facts (the archivist)",
)
def archivist_schedule(
    context: dg.ScheduleEvaluationContext, store: StoreResource, memory: MemoryResource
) -> dg.RunRequest | dg.SkipReason:
    """One run per hour when memory has rows the archivist has not read."""
    st = store.get()
    if st.kill_switch_on():
        return dg.SkipReason("kill switch is on")
    waiting = pending_rows(memory.get(st), st)
    if not waiting:
        return dg.SkipReason("no new episodic memory")
    return dg.RunRequest(
        run_key=f"archivist-{context.scheduled_execution_time.strftime('%Y%m%dT%H%M')}",
        tags={"opsbench/trigger": "archivist_schedule", "opsbench/reason": f"{waiting} rows"},
    )
