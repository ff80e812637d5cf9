"""Every invariant holds on both stores: each test here runs once on SQLite (the embedded
default) and once on a fresh Postgres database (OPSBENCH_STORE_URL, which the CLI, the
headless runner, the run workers and every child process read)."""

from collections.abc import Iterator

import pytest
from postgres import fresh_database_url


@pytest.fixture(params=["sqlite", "postgres"], autouse=True)
def store_backend(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str | None]:
    """The store URL the test runs on (None: SQLite in the test's home)."""
    if request.param == "sqlite":
        monkeypatch.delenv("OPSBENCH_STORE_URL", raising=False)
        yield None
        return
    for url in fresh_database_url():
        monkeypatch.setenv("OPSBENCH_STORE_URL", url)
        yield url
