"""A server with a bearer token: the console asks for it, keeps it in the
tab's session storage and sends it with every API call."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import ConsoleServer, start_console_server
from .test_console import TWO_TASKS

pytestmark = pytest.mark.slow

TOKEN = "console-test-token"


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[ConsoleServer]:
    running = start_console_server(tmp_path, token=TOKEN)
    running.http.headers["authorization"] = f"Bearer {TOKEN}"
    yield running
    running.stop()


def test_the_console_asks_for_the_token_and_uses_it(
    guarded: ConsoleServer, page: Any, screenshots: Path
) -> None:
    execution_id = guarded.start(TWO_TASKS)
    # The page and its assets hold no data: they load without the token ...
    assert guarded.http.get("/", headers={"authorization": ""}).status_code == 200
    # ... while the API they call does not answer without it.
    assert guarded.http.get("/v1/executions", headers={"authorization": ""}).status_code == 401
    page.goto(guarded.url + "/")
    page.get_by_label("API token").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("API token").fill(TOKEN)
    shot_path = screenshots / "login.png"
    page.screenshot(path=str(shot_path))
    page.get_by_role("button", name="Sign in").click()
    page.locator(f'tr[data-execution="{execution_id}"]').wait_for()
    assert page.evaluate("sessionStorage.getItem('cadenza.token')") == TOKEN
    assert guarded.http.get("/v1/executions", headers={"authorization": ""}).status_code == 401
