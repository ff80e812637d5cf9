"""Triggers: outside events only — mail arrived, outcomes waiting, an approval given, a run
or check failed, a schedule fired — and the recovery each tick does (dead runs, dead
batches, deferred work). May use ops_assets/ and resources/; never the code location or the
owner's application."""

from sensors.alerts import check_failure_alerts, run_failure_alerts
from sensors.approvals import approvals_sensor
from sensors.inbox import inbox_sensor
from sensors.notifications import notifications_sensor
from sensors.outcomes import outcomes_sensor

ALL_SENSORS = [
    inbox_sensor,
    outcomes_sensor,
    approvals_sensor,
    run_failure_alerts,
    check_failure_alerts,
    notifications_sensor,
]
