"""A fresh database on the machine's PostgreSQL (127.0.0.1:5432, user postgres, trust auth)
for one test, dropped after; the test is skipped where no server answers."""

import secrets
from collections.abc import Iterator

import pytest

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"


def fresh_database_url() -> Iterator[str]:
    psycopg = pytest.importorskip("psycopg")
    name = f"opsbench_test_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as error:
        pytest.skip(f"no PostgreSQL on 127.0.0.1:5432 ({error})")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        from resources.store.resource import close_store

        close_store(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
