"""The `connectors` resource: the configured connectors, by role, for an agent whose scopes
allow them (refused and audited otherwise), wrapped in the sandbox when the config says so."""

import dagster as dg

from resources.connectors.base import Connector, Sandbox
from resources.connectors.outbox import FileOutbox
from resources.connectors.smtp import SmtpConnector
from resources.connectors.webhook import WebhookConnector
from resources.settings import SettingsResource
from resources.settings.environment import secret_value
from resources.store import Store


class ConnectorsResource(dg.ConfigurableResource):
    settings: SettingsResource

    def _scoped(self, connector: Connector, suffix: str, *, agent: str, store: Store) -> Connector:
        from resources.scopes import require_scope

        require_scope(store, agent, f"connector:{connector.name}", self.settings.policy().scopes)
        if self.settings.config().connectors.sandbox:
            folder = self.settings.home_dir().root / "sandbox" / connector.name
            return Sandbox(connector, folder, suffix)
        return connector

    def reply_channel(self, *, agent: str, store: Store) -> Connector:
        """Where replies go: SMTP when enabled, else the file outbox."""
        config = self.settings.config().connectors
        if config.smtp.enabled:
            smtp = config.smtp
            connector: Connector = SmtpConnector(
                smtp.host,
                smtp.port,
                starttls=smtp.starttls,
                use_ssl=smtp.ssl,
                username=smtp.username,
                password=secret_value(smtp.password_env),
                timeout_s=smtp.timeout_s,
            )
        else:
            connector = FileOutbox(self.settings.home_dir().outbox)
        return self._scoped(connector, ".eml", agent=agent, store=store)

    def webhook(self, *, agent: str, store: Store) -> Connector | None:
        hook = self.settings.config().connectors.webhook
        if not hook.url:
            return None
        connector = WebhookConnector(
            hook.url,
            secret=secret_value(hook.secret_env),
            timeout_s=hook.timeout_s,
            max_retries=hook.max_retries,
            backoff_s=hook.backoff_s,
        )
        return self._scoped(connector, ".json", agent=agent, store=store)

    def rate_per_minute(self, connector: Connector) -> int | None:
        config = self.settings.config().connectors
        return {
            "smtp": config.smtp.rate_per_minute,
            "webhook": config.webhook.rate_per_minute,
            "outbox": config.outbox.rate_per_minute,
        }.get(connector.name)
