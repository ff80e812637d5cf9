"""The approvals sensor: when the owner approves held replies, launch delivery at once. The
cursor is the last approval seen, so each approval launches delivery once."""

import dagster as dg

from ops_assets.defs.jobs import OUTCOMES_JOB
from resources.store.resource import StoreResource


@dg.sensor(
    job_name=OUTCOMES_JOB, minimum_interval_seconds=5, default_status=dg.DefaultSensorStatus.RUNNING
)
def approvals_sensor(
    context: dg.SensorEvaluationContext, store: StoreResource
) -> dg.SensorResult | dg.SkipReason:
    """Launches delivery for replies the owner approved."""
    st = store.get()
    last = int(context.cursor or 0)
    approvals = [a for a in st.approvals_after(last) if a["actor"] != "policy"]
    if not approvals:
        return dg.SkipReason("no new approvals")
    newest = max(a["id"] for a in approvals)
    if st.kill_switch_on():
        return dg.SkipReason("kill switch is on: approved items wait for `opsbench resume`")
    approved = [a["item_id"] for a in approvals if a["decision"] == "approved"]
    requests = (
        [
            dg.RunRequest(
                run_key=f"approvals-{newest}",
                tags={
                    "opsbench/trigger": "approval",
                    "opsbench/reason": f"{len(approved)} approved",
                },
            )
        ]
        if approved
        else []
    )
    return dg.SensorResult(run_requests=requests, cursor=str(newest))
