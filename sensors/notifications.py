"""The owner's digest: every minute, send what started waiting since the last digest when one
is due (ops_assets/observability/notifications.py: debounce, grouping, the ledger)."""

import dagster as dg

from ops_assets.observability.notifications import send_digest
from resources.settings import SettingsResource
from resources.store.resource import StoreResource


@dg.sensor(
    name="owner_notifications",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Mails the owner a digest (and posts it to a webhook) when items start waiting",
)
def notifications_sensor(
    context: dg.SensorEvaluationContext, settings: SettingsResource, store: StoreResource
) -> dg.SkipReason:
    """Sends the owner's digest when one is due; the store's controls keep its watermark."""
    outcome = send_digest(store.get(), settings.home_dir(), settings.config())
    if outcome.sent:
        context.log.info(outcome.reason)
    return dg.SkipReason(outcome.reason)
