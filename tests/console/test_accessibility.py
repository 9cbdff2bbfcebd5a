"""Accessibility basics of the console, checked by axe-core in the browser:
no serious or critical WCAG 2 A/AA violation on its main pages, and the
keyboard reaches the navigation and the filters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import ConsoleServer
from .test_console import ASK, TWO_TASKS

pytestmark = pytest.mark.slow


def serious_violations(page: Any, axe: Path) -> list[str]:
    page.add_script_tag(path=str(axe))
    result = page.evaluate(
        "() => axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}})"
    )
    return [
        f"{violation['id']}: {violation['help']} ({len(violation['nodes'])} element(s))"
        for violation in result["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


# npm ci and a build come first, the first time (session fixture).
@pytest.mark.timeout(600)
def test_the_main_pages_have_no_serious_violation(
    server: ConsoleServer, page: Any, fresh_build: Path
) -> None:
    axe = fresh_build / "node_modules" / "axe-core" / "axe.min.js"
    done = server.start(TWO_TASKS)
    waiting = server.start(ASK)
    server.wait_for(done, lambda e: bool(e["final"]))
    server.wait_for(waiting, lambda e: e["status"] == "paused")
    definition_id = server.http.get(f"/v1/executions/{done}").json()["definition_id"]

    pages = {
        "executions": ("/", f'tr[data-execution="{done}"]'),
        "needs attention": ("/attention", f'tr[data-execution="{waiting}"]'),
        "execution": (f"/executions/{done}", "#graph svg"),
        "question": (f"/executions/{waiting}", "#answers form"),
        "definitions": ("/definitions", "table"),
        "definition": (f"/definitions/{definition_id}", "#graph svg"),
    }
    found = {}
    for name, (path, ready) in pages.items():
        page.goto(server.url + path)
        page.locator(ready).first.wait_for()
        found[name] = serious_violations(page, axe)
    assert found == {name: [] for name in pages}


def test_the_keyboard_reaches_the_navigation_and_the_filters(
    server: ConsoleServer, page: Any
) -> None:
    page.goto(server.url + "/")
    page.get_by_role("button", name="Apply filters").wait_for()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    reached = []
    for _ in range(3):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.textContent.trim()"))
    assert reached == ["Executions", "Needs attention", "Definitions"]
    page.keyboard.press("Enter")  # follows the focused link
    page.get_by_role("heading", name="Definitions").wait_for()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.tagName") != "BODY"
