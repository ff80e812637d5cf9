"""Sensors: the triggers from the outside world (files arriving, outcomes waiting)."""

from sensors.alerts import check_failure_alerts, run_failure_alerts
from sensors.approvals import approvals_sensor
from sensors.inbox import inbox_sensor
from sensors.outcomes import outcomes_sensor

ALL_SENSORS = [
    inbox_sensor,
    outcomes_sensor,
    approvals_sensor,
    run_failure_alerts,
    check_failure_alerts,
]
