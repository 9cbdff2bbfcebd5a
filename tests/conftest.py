"""Shared fixtures: one behavioural suite runs against every store backend.

Under CI (``CADENZA_REQUIRE_ALL=1``, set by ``.ci/run``) a skipped test is a
failure: service-backed and conformance tests must run there, not skip.

PostgreSQL cases run against the server at ``$CADENZA_TEST_POSTGRES``
(default ``postgresql://postgres@127.0.0.1:5432/test``). Each test gets a
database of its own, cloned from a template that is migrated once per
session, and dropped after the test; when the server cannot be reached the
cases skip with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from cadenza.store.protocol import Store

BACKENDS = ["sqlite", "postgres"]

POSTGRES_URL = os.environ.get("CADENZA_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_url_for(database: str) -> str:
    """``$CADENZA_TEST_POSTGRES`` with its database replaced by ``database``."""
    return urlsplit(POSTGRES_URL)._replace(path=f"/{database}").geturl()


class PostgresDatabases:
    """Creates and drops uniquely named databases on the test server."""

    def __init__(self, admin: Any) -> None:
        self.admin = admin  # an autocommit psycopg connection

    def url(self, name: str) -> str:
        """The URL of database ``name`` on the test server."""
        return postgres_url_for(name)

    def create(self, template: str = "template0") -> str:
        from psycopg import sql

        name = f"cadenza_test_{uuid.uuid4().hex[:16]}"
        self.admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
        return name

    def drop(self, name: str) -> None:
        from psycopg import sql

        # FORCE (PostgreSQL 13+) ends connections a failed test left open.
        self.admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresDatabases]:
    """The PostgreSQL test server, or a skip saying why it cannot be used."""
    try:
        import psycopg
    except ImportError:
        pytest.skip("psycopg is not installed: pip install -e '.[test]'")
    try:
        admin = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        where = urlsplit(POSTGRES_URL)._replace(netloc=urlsplit(POSTGRES_URL).hostname or "")
        pytest.skip(
            f"PostgreSQL is unreachable at {where.geturl()} (set CADENZA_TEST_POSTGRES): {exc}"
        )
    yield PostgresDatabases(admin)
    admin.close()


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresDatabases) -> Iterator[str]:
    """A database migrated once per session, for tests to clone."""
    from cadenza.store.postgres import PostgresStore

    name = postgres_server.create()
    PostgresStore(postgres_url_for(name)).close()
    yield name
    postgres_server.drop(name)


@pytest.fixture
def postgres_url(postgres_server: PostgresDatabases, postgres_template: str) -> Iterator[str]:
    """A migrated database of this test's own, dropped afterwards."""
    name = postgres_server.create(template=postgres_template)
    yield postgres_url_for(name)
    postgres_server.drop(name)


@pytest.fixture(scope="session")
def postgres_shared(postgres_server: PostgresDatabases, postgres_template: str) -> Iterator[str]:
    """One migrated database for the whole session, emptied before each test that uses it."""
    name = postgres_server.create(template=postgres_template)
    yield name
    postgres_server.drop(name)


@pytest.fixture
def postgres_empty_url(postgres_server: PostgresDatabases, postgres_shared: str) -> str:
    """A migrated, empty database: the session's shared one, emptied for this test.

    Much cheaper than a database per test (TRUNCATE against CREATE DATABASE),
    for tests that only read and write rows. Tests that change the schema or
    its version use ``postgres_url`` instead.
    """
    import psycopg

    # Connections a previous test left behind must not hold locks on the tables.
    postgres_server.admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()",
        (postgres_shared,),
    )
    url = postgres_url_for(postgres_shared)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE definitions, executions, history, inbox, tasks, timers, datastore, blobs, "
            "queue_polls"
        )
    return url


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store of each backend (only the one each case needs is built)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cadenza.db'}"
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_empty_url")
        return url
    raise AssertionError(request.param)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    from cadenza.store import open_store

    opened = open_store(store_url)
    yield opened
    opened.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    required = os.environ.get("CADENZA_REQUIRE_ALL") == "1"
    if report.skipped and required and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped under CADENZA_REQUIRE_ALL=1 (CI must run it): {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    # A whole module skipped at import (conformance cases or a service missing)
    # is reported at collection, not per test: under CI it fails the same way.
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("CADENZA_REQUIRE_ALL") == "1":
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CADENZA_REQUIRE_ALL=1 (CI must run it): {reason}"
