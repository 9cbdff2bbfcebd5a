"""Shared fixtures: one behavioural suite runs against every store backend.

Under CI (``CADENZA_REQUIRE_ALL=1``, set by ``.ci/run``) a skipped test is a
failure: service-backed and conformance tests must run there, not skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cadenza.store.protocol import Store

BACKENDS = ["sqlite"]


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store of each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cadenza.db'}"
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
