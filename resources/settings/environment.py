"""The environment, read in one place (pydantic-settings) and at call time, never at import.

Precedence, the same everywhere: command-line flags (the CLI writes them into the
environment of its own process and the processes it starts) > environment variables > the
config file > defaults. Secrets are `SecretStr`: they print as `**********` and are only
unwrapped where they are sent."""

import os
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(BaseSettings):
    """Every OPSBENCH_* variable the workbench reads (README: Environment variables)."""

    model_config = SettingsConfigDict(env_prefix="OPSBENCH_", extra="ignore", frozen=True)

    home: str = ".opsbench"
    config: str | None = None
    policy: str | None = None
    llm: str = "local"
    record: str | None = None
    model: str | None = None
    api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPSBENCH_API_KEY", "OPENAI_API_KEY")
    )
    embedder: str | None = None
    embedding_model: str | None = None
    cache: str = "~/.cache/opsbench"
    failpoint: str | None = None
    store_url: SecretStr | None = None
    """The canonical store (OPSBENCH_STORE_URL): beats the config's `store.url`; a
    `postgresql+psycopg://` URL may carry a password, so it is a secret."""

    @property
    def cache_dir(self) -> Path:
        return Path(self.cache).expanduser()

    def api_key_value(self) -> str:
        """The key for a hosted endpoint, at the moment it is sent ("none" without one)."""
        return self.api_key.get_secret_value() if self.api_key else "none"


def environment() -> Environment:
    """The environment as it is now (tests and the CLI change it between calls)."""
    return Environment()


def secret_from(variable: str) -> SecretStr | None:
    """A secret whose variable the config names (smtp.password_env, webhook.secret_env,
    an IMAP account's password_env)."""
    value = os.environ.get(variable)
    return SecretStr(value) if value else None


def secret_value(variable: str) -> str | None:
    """The same, unwrapped: only for the connector that sends it."""
    secret = secret_from(variable)
    return secret.get_secret_value() if secret else None
