"""Alert sensors: a failed run and a failed asset check each leave an alert in the home.

Both read finished runs from the instance (newest update after their cursor), so they work
the same under the daemon and in the headless runner. The cursor holds the newest update
seen and the runs already reported within a look-back window, so a run is neither skipped
when its status lands late nor reported twice when its record changes again.
"""

import datetime as dt
import json
from collections.abc import Callable, Iterable

import dagster as dg

from ops_assets.observability.alerts import write_alert
from resources.settings import SettingsResource

FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE]
LOOKBACK = dt.timedelta(minutes=10)


def _new_runs(
    context: dg.SensorEvaluationContext, statuses: list[dg.DagsterRunStatus]
) -> tuple[list[dg.RunRecord], str]:
    """Finished runs not reported yet. It looks back LOOKBACK before the newest update it saw
    (a run's status can be written after a later run's) and remembers the runs it reported
    in that window (a run record updated again, e.g. tagged by the auto-retry daemon, is not
    reported twice)."""
    state = json.loads(context.cursor) if context.cursor else {}
    after = dt.datetime.fromisoformat(state["after"]) if state.get("after") else None
    alerted: dict[str, str] = dict(state.get("alerted") or {})
    records = context.instance.get_run_records(
        filters=dg.RunsFilter(statuses=statuses, updated_after=after - LOOKBACK if after else None),
        order_by="update_timestamp",
        ascending=True,
        limit=500,
    )
    fresh = [r for r in records if r.dagster_run.run_id not in alerted]
    for record in fresh:
        alerted[record.dagster_run.run_id] = record.update_timestamp.isoformat()
    newest = max([r.update_timestamp for r in records] + ([after] if after else []), default=None)
    if newest is None:
        return [], context.cursor or ""
    keep_from = (newest - 2 * LOOKBACK).isoformat()
    alerted = {run: at for run, at in alerted.items() if at >= keep_from}
    return fresh, json.dumps({"after": newest.isoformat(), "alerted": alerted})


def _alert_sensor(
    name: str,
    statuses: list[dg.DagsterRunStatus],
    alerts_for: Callable[[dg.DagsterInstance, dg.DagsterRun], Iterable[dict[str, object]]],
    description: str,
) -> dg.SensorDefinition:
    @dg.sensor(
        name=name,
        minimum_interval_seconds=10,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=description,
    )
    def _sensor(context: dg.SensorEvaluationContext, settings: SettingsResource) -> dg.SkipReason:
        runs, cursor = _new_runs(context, statuses)
        home = settings.home_dir()
        written = 0
        for record in runs:
            for alert in alerts_for(context.instance, record.dagster_run):
                write_alert(home, **alert)  # type: ignore[arg-type]
                written += 1
        context.update_cursor(cursor)
        return dg.SkipReason(f"{written} alert(s) written for {len(runs)} finished run(s)")

    return _sensor


def _run_context(run: dg.DagsterRun) -> dict[str, object]:
    return {
        "run_id": run.run_id,
        "job": run.job_name,
        "batch": run.tags.get("opsbench/batch") or run.tags.get("dagster/partition"),
        "trigger": run.tags.get("opsbench/trigger"),
    }


def _run_failures(instance: dg.DagsterInstance, run: dg.DagsterRun) -> Iterable[dict[str, object]]:
    events = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    message = events[-1].dagster_event.message if events and events[-1].dagster_event else None
    steps = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    yield {
        "kind": "run_failure",
        **_run_context(run),
        "failed_steps": sorted({e.step_key for e in steps if e.step_key}),
        "message": (message or "")[:300],
    }


def _check_failures(
    instance: dg.DagsterInstance, run: dg.DagsterRun
) -> Iterable[dict[str, object]]:
    for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = entry.dagster_event.event_specific_data if entry.dagster_event else None
        if not isinstance(evaluation, dg.AssetCheckEvaluation) or evaluation.passed:
            continue
        failing = evaluation.metadata.get("failing_ids")
        yield {
            "kind": "check_failure",
            **_run_context(run),
            "asset": evaluation.asset_key.to_user_string(),
            "check": evaluation.check_name,
            "severity": evaluation.severity.value,
            "blocking": bool(evaluation.blocking),
            "failing_ids": failing.value if failing is not None else None,
        }


run_failure_alerts = _alert_sensor(
    "run_failure_alerts",
    [dg.DagsterRunStatus.FAILURE],
    _run_failures,
    "Writes an alert to <home>/alerts/alerts.jsonl for every failed run",
)
check_failure_alerts = _alert_sensor(
    "check_failure_alerts",
    FINISHED,
    _check_failures,
    "Writes an alert to <home>/alerts/alerts.jsonl for every failed asset check",
)
