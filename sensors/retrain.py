"""The retrain sensor: when the owner has given enough new labels (re-categorisations,
approvals, edits, rejections, replies of their own), retrain the triage classifier; in a home
without one yet, train the first. The cursor is the label count the last request was made at,
so each step of RETRAIN_AFTER new labels asks once."""

import dagster as dg

from ops_assets.defs.jobs import RETRAIN_JOB
from ops_assets.defs.triage.classifier import default_path
from resources.settings import SettingsResource
from resources.store.labels import label_count
from resources.store.resource import StoreResource

RETRAIN_AFTER = 5
"""New labels that make a retrain worth its minute of CPU."""


def wanted(count: int, cursor: str | None, trained: bool) -> str | None:
    """The run key of the retrain due now, or None."""
    if not trained:
        return f"triage-classifier-first-{count}"
    if count - int(cursor or 0) >= RETRAIN_AFTER:
        return f"triage-classifier-{count}"
    return None


@dg.sensor(
    job_name=RETRAIN_JOB,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def retrain_sensor(
    context: dg.SensorEvaluationContext, store: StoreResource, settings: SettingsResource
) -> dg.SensorResult | dg.SkipReason:
    """Retrains the triage classifier when enough new labels arrived."""
    count = label_count(store.get())
    trained = default_path(settings.home_dir().root).exists()
    run_key = wanted(count, context.cursor, trained)
    if run_key is None:
        return dg.SkipReason(f"{count - int(context.cursor or 0)} new labels, {RETRAIN_AFTER} due")
    request = dg.RunRequest(
        run_key=run_key,
        tags={"opsbench/trigger": "labels", "opsbench/reason": f"{count} labels"},
    )
    return dg.SensorResult(run_requests=[request], cursor=str(count))
