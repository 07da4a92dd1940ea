"""Store fixtures: every contract test runs against SQLite and PostgreSQL.

PostgreSQL comes from ``PARCOURS_TEST_POSTGRES_DSN`` (default
``postgresql://postgres@127.0.0.1:5432/test``). Each test gets a fresh schema, chosen through the
connection's ``search_path``, dropped afterwards. When the server is unreachable the PostgreSQL
tests are skipped, unless ``CI`` is set: then they fail, because CI must run them.
"""

from __future__ import annotations

import os
import uuid
from typing import Callable
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import pytest

from hub.store import Store, open_store

DEFAULT_PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"


def pg_dsn() -> str:
    return os.environ.get("PARCOURS_TEST_POSTGRES_DSN") or DEFAULT_PG_DSN


def with_search_path(dsn: str, schema: str) -> str:
    """``dsn`` (a postgresql:// URL) whose connections use ``schema`` first.

    Test connections also skip waiting for the WAL flush at commit (``synchronous_commit=off``):
    a fresh schema per test means a lot of small DDL commits.
    """
    parts = urlsplit(dsn)
    query = dict(parse_qsl(parts.query))
    query["options"] = (query.get("options", "") + f" -csearch_path={schema} -csynchronous_commit=off").strip()
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))  # libpq: %20, not +


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The DSN of a reachable PostgreSQL server (skip, or fail under CI, when there is none)."""
    dsn = pg_dsn()
    try:
        import psycopg

        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # ImportError, OperationalError: same answer
        reason = f"PostgreSQL not reachable at {dsn}: set PARCOURS_TEST_POSTGRES_DSN ({type(exc).__name__}: {exc})"
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return dsn


@pytest.fixture
def pg_schema_url(pg_server: str):
    """A URL on a fresh, empty schema; the schema is dropped after the test."""
    import psycopg

    schema = f"parcours_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield with_search_path(pg_server, schema)
    finally:
        with psycopg.connect(pg_server, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _factory(url: str, open_raw: Callable[[], Store]):
    """``make()`` opens one more store (its own connection) on the same database."""
    opened: list[Store] = []

    def make(*, migrate: bool = True) -> Store:
        store = open_store(url) if migrate else open_raw()
        opened.append(store)
        return store

    make.url = url  # type: ignore[attr-defined]
    return make, opened


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_factory(request, tmp_path):
    if request.param == "sqlite":
        from hub.store.sqlite import SQLiteStore

        path = tmp_path / "hub.db"
        make, opened = _factory(f"sqlite:///{path}", lambda: SQLiteStore(path))
        make.kind = "sqlite"  # type: ignore[attr-defined]
        yield make
    else:
        from hub.store.postgres import PostgresStore

        url = request.getfixturevalue("pg_schema_url")
        make, opened = _factory(url, lambda: PostgresStore(url))
        make.kind = "postgres"  # type: ignore[attr-defined]
        yield make
    for store in opened:  # before the schema is dropped (pg_schema_url tears down after us)
        store.close()
        store.shutdown_executor()


@pytest.fixture
def store(store_factory) -> Store:
    return store_factory()


@pytest.fixture
def pg_store_factory(pg_schema_url):
    from hub.store.postgres import PostgresStore

    make, opened = _factory(pg_schema_url, lambda: PostgresStore(pg_schema_url))
    yield make
    for store in opened:
        store.close()
        store.shutdown_executor()
