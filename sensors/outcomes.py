"""The outcomes sensor: when items are ready to send or have new outcomes to remember, launch
the delivery-and-memory job. The run key is derived from what is waiting and a ten-minute
window, so the same waiting set launches one run — and, if that run failed (a connector
down), one more per window until it drains. Delivery itself is safe to repeat."""

import datetime as dt
import hashlib
import time

import dagster as dg

from ops_assets.defs.jobs import OUTCOMES_JOB
from ops_assets.orchestration.workflows import REPLIES, belongs_to
from resources.store import Store
from resources.store.resource import StoreResource

RETRY_WINDOW_S = 600
# A send that failed for a passing reason is tried again after this long, not at every tick.
BACKOFF_S = 60


def _backing_off(st: Store, item_id: str) -> bool:
    cutoff = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=BACKOFF_S)).isoformat()
    return any(
        d["state"] == "retry" and d["updated_at"] > cutoff for d in st.deliveries_for(item_id)
    )


def outcomes_run_key(rows: list[dict], now: float | None = None) -> str:  # type: ignore[type-arg]
    marks = sorted(f"{r['id']}:{r['state']}:{r['updated_at']}" for r in rows)
    window = int((time.time() if now is None else now) // RETRY_WINDOW_S)
    return f"outcomes-{hashlib.sha256('|'.join(marks).encode()).hexdigest()[:16]}-{window}"


@dg.sensor(
    job_name=OUTCOMES_JOB, minimum_interval_seconds=5, default_status=dg.DefaultSensorStatus.RUNNING
)
def outcomes_sensor(
    context: dg.SensorEvaluationContext, store: StoreResource
) -> dg.RunRequest | dg.SkipReason:
    """Launches delivery and memory for approved items and new outcomes."""
    st = store.get()
    if st.kill_switch_on():
        return dg.SkipReason("kill switch is on: no delivery until `opsbench resume`")
    # A workflow with its own delivery (a proposal with its PDF) is its own job's to send.
    waiting = [
        i for i in st.ready_to_send() if belongs_to(i, REPLIES) and not _backing_off(st, i["id"])
    ]
    waiting += st.unremembered()
    if not waiting:
        return dg.SkipReason("nothing ready to send or remember")
    return dg.RunRequest(
        run_key=outcomes_run_key(waiting),
        tags={"opsbench/trigger": "outcomes", "opsbench/reason": f"{len(waiting)} waiting"},
    )
