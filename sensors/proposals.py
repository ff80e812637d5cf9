"""The proposals sensor: when items on the proposals route wait in a state its job moves
(`triaged`, `drafted`, `reviewed`, `approved`, `sending`), launch `run_proposals` — one run at
a time, under a run key of what waits (and a ten-minute window, so work a run could not
finish, a model down say, is tried again), the key it launched kept as the cursor. So a sales
mail dropped into the inbox becomes a proposal waiting for the owner without a hand-launched
job, and an approval sends it."""

import hashlib
import time

import dagster as dg

from ops_assets.defs.proposals.leads import IN_FLIGHT, ROUTE
from ops_assets.defs.proposals.workflow import JOB
from resources.store import Store
from resources.store.resource import StoreResource

RETRY_WINDOW_S = 600
UNDER_WAY = (
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
)


def waiting(st: Store) -> list[dict]:  # type: ignore[type-arg]
    return [i for i in st.items(states=IN_FLIGHT) if i["route"] == ROUTE]


def proposals_run_key(rows: list[dict], now: float | None = None) -> str:  # type: ignore[type-arg]
    marks = sorted(f"{r['id']}:{r['state']}:{r['updated_at']}" for r in rows)
    window = int((time.time() if now is None else now) // RETRY_WINDOW_S)
    return f"proposals-{hashlib.sha256('|'.join(marks).encode()).hexdigest()[:16]}-{window}"


@dg.sensor(job_name=JOB, minimum_interval_seconds=10, default_status=dg.DefaultSensorStatus.RUNNING)
def proposals_sensor(
    context: dg.SensorEvaluationContext, store: StoreResource
) -> dg.SensorResult | dg.SkipReason:
    """Launches the proposals workflow for leads, drafts, verdicts and approved proposals."""
    st = store.get()
    if st.kill_switch_on():
        return dg.SkipReason("kill switch is on: no proposal work until `opsbench resume`")
    rows = waiting(st)
    if not rows:
        return dg.SkipReason("no proposal work waiting")
    running = context.instance.get_runs(
        filters=dg.RunsFilter(job_name=JOB, statuses=list(UNDER_WAY)), limit=1
    )
    if running:
        return dg.SkipReason(f"a {JOB} run is under way; what waits goes to the next one")
    key = proposals_run_key(rows)
    if key == context.cursor:
        return dg.SkipReason("this work was launched already in this window")
    request = dg.RunRequest(
        run_key=key,
        tags={"opsbench/trigger": "proposals", "opsbench/reason": f"{len(rows)} waiting"},
    )
    return dg.SensorResult(run_requests=[request], cursor=key)
