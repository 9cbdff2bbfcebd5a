"""The console's search, tags, counts from the API, polling with ETags, the
"needs attention" extras (no progress for a while, leases lost more than
once), a task's queue polls, highlighted sources and declared inputs, Map and
Parallel states opened up, and scale (a 5,000-item with-items and Map, 10,000
executions in the list), in a real browser against a real server. Timings are
printed, not asserted.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import ConsoleServer, start_console_server
from .test_accessibility import serious_violations
from .test_console import CHOICE_MACHINE, FAN_OUT, TWO_TASKS, shot

pytestmark = pytest.mark.slow

# A task only an outside worker runs: it waits on its queue until claimed.
OUTSIDE = """\
version: 1.0
tasks:
  greet:
    action: ext.greet
"""


def start(server: ConsoleServer, source: str, tags: list[str], name: str | None = None) -> str:
    answer = server.http.post("/v1/definitions", json={"source": source, "name": name})
    assert answer.status_code == 201, answer.text
    started = server.http.post(
        "/v1/executions", json={"definition_id": answer.json()["id"], "tags": tags}
    )
    assert started.status_code == 201, started.text
    execution_id: str = started.json()["id"]
    return execution_id


def rows(page: Any) -> set[str]:
    found = page.locator("table.executions tbody tr").evaluate_all(
        "rows => rows.map(row => row.dataset.execution)"
    )
    return set(found)


def test_executions_are_searched_and_filtered_by_tag(
    server: ConsoleServer, page: Any, screenshots: Path
) -> None:
    nightly = start(server, TWO_TASKS, ["team=search", "nightly"], name="search-nightly")
    adhoc = start(server, TWO_TASKS, ["team=search"], name="search-nightly")
    other = start(server, TWO_TASKS.replace("hello", "bye"), ["team=else"], name="elsewhere")
    for execution_id in (nightly, adhoc, other):
        server.wait_for(execution_id, lambda e: bool(e["final"]))

    page.goto(server.url + "/")
    page.get_by_label("Search").fill("SEARCH-night")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**/?q=SEARCH-night")
    # The unfiltered rows stay on the page until the search's answer replaces them.
    page.locator(f'tr[data-execution="{other}"]').wait_for(state="detached")
    page.locator(f'tr[data-execution="{adhoc}"]').wait_for()
    assert rows(page) == {nightly, adhoc}
    # The counts are the API's, for the same filters.
    counts = page.get_by_role("list", name="executions by status")
    counts.get_by_text("2 matching").wait_for()
    shot(page, screenshots, "executions-search")

    page.locator(f'tr[data-execution="{nightly}"] a.tag', has_text="nightly").click()
    page.wait_for_url("**/?tag=nightly")
    page.locator(f'tr[data-execution="{adhoc}"]').wait_for(state="detached")
    assert rows(page) == {nightly}

    page.get_by_label("Tags").fill("team=else")
    page.get_by_role("button", name="Apply filters").click()
    page.locator(f'tr[data-execution="{nightly}"]').wait_for(state="detached")
    page.locator(f'tr[data-execution="{other}"]').wait_for()
    assert rows(page) == {other}
    page.get_by_label("Tags").fill("team=else, nightly")
    page.get_by_role("button", name="Apply filters").click()
    page.get_by_text("No execution matches.").wait_for()


def test_the_list_polls_with_etags_and_an_unchanged_page_is_a_304(
    server: ConsoleServer, page: Any
) -> None:
    execution_id = start(server, TWO_TASKS, ["etag"])
    server.wait_for(execution_id, lambda e: bool(e["final"]))
    page.goto(server.url + "/?tag=etag")
    page.locator(f'tr[data-execution="{execution_id}"]').wait_for()
    # The next poll asks with If-None-Match and nothing changed: a 304, and the row stays.
    with page.expect_response(
        lambda r: r.url.startswith(server.url + "/v1/executions?") and r.status == 304,
        timeout=30_000,
    ) as answered:
        pass
    assert answered.value.request.headers.get("if-none-match", "").startswith('W/"')
    assert rows(page) == {execution_id}


def claim(server: ConsoleServer, lease: float) -> dict[str, Any]:
    answer = server.http.post(
        "/v1/workers/tasks/claim",
        json={"worker": "w1", "actions": ["ext.greet"], "wait": 45, "lease": lease},
        timeout=90,
    )
    assert answer.status_code == 200, answer.text
    (task,) = answer.json()["tasks"]
    return dict(task)


# npm ci and a build come first, the first time (session fixture): axe-core is in it.
@pytest.mark.timeout(600)
def test_needs_attention_shows_stalled_executions_and_leases_lost_twice(
    server: ConsoleServer, page: Any, screenshots: Path, fresh_build: Path
) -> None:
    execution_id = start(server, OUTSIDE, ["attention"])
    claim(server, lease=1)
    claim(server, lease=1)
    # No heartbeats: both leases lapse; the third attempt is held while the page looks.
    third = claim(server, lease=120)
    assert third["attempt"] == 3
    try:
        page.goto(server.url + "/attention")
        lost = page.locator(f'#lost-leases tr[data-execution="{execution_id}"]')
        lost.wait_for()
        assert "greet" in lost.inner_text() and "\t2\t" in lost.inner_text()
        # It made progress seconds ago: not stalled at 15 minutes, stalled at 0.
        assert page.locator(f'#stalled tr[data-execution="{execution_id}"]').count() == 0
        page.get_by_label("nothing recorded for more than (minutes)").fill("0")
        page.get_by_role("button", name="Show").click()
        page.locator(f'#stalled tr[data-execution="{execution_id}"]').wait_for()
        shot(page, screenshots, "attention-extras")
        axe = fresh_build / "node_modules" / "axe-core" / "axe.min.js"
        assert serious_violations(page, axe) == []
    finally:
        server.http.post("/v1/workers/tasks/complete", json={"token": third["token"]})
    server.wait_for(execution_id, lambda e: e["status"] == "succeeded")


def test_a_task_waiting_for_a_worker_says_whether_its_queue_is_polled(
    server: ConsoleServer, page: Any
) -> None:
    execution_id = start(server, OUTSIDE, ["queue"])
    try:
        page.goto(f"{server.url}/executions/{execution_id}")
        waiting = page.locator('#tasks tr[data-task="greet"]')
        waiting.get_by_text("queue default last polled").wait_for()
    finally:
        server.http.post(f"/v1/executions/{execution_id}/cancel")


@pytest.mark.timeout(600)
def test_a_five_thousand_item_fan_out_renders_its_graph_and_timeline(
    server: ConsoleServer, page: Any, screenshots: Path
) -> None:
    execution_id = server.start(FAN_OUT, {"xs": list(range(5000))})
    assert (
        server.wait_for(execution_id, lambda e: bool(e["final"]), timeout=500)["status"]
        == "succeeded"
    )

    began = time.perf_counter()
    tasks = server.http.get(f"/v1/executions/{execution_id}/tasks")
    api_took = time.perf_counter() - began
    assert tasks.status_code == 200

    began = time.perf_counter()
    page.goto(f"{server.url}/executions/{execution_id}")
    page.locator('#graph g.node[data-step="each"][data-status="succeeded"]').wait_for()
    bar = page.locator("#timeline li").first
    bar.wait_for()
    rendered = time.perf_counter() - began
    assert bar.inner_text().startswith("each \u00d75000")
    shot(page, screenshots, "fan-out-5000")
    print(
        f"\n5,000-item with-items: GET .../tasks {api_took:.3f} s; "
        f"page to graph and timeline {rendered:.2f} s"
    )

    machine = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.xs",
                "ItemProcessor": {
                    "StartAt": "Double",
                    "States": {"Double": {"Type": "Pass", "End": True}},
                },
                "End": True,
            }
        },
    }
    mapped = server.start(json.dumps(machine), {"xs": list(range(5000))}, kind="states")
    assert server.wait_for(mapped, lambda e: bool(e["final"]), timeout=500)["status"] == (
        "succeeded"
    )
    began = time.perf_counter()
    page.goto(f"{server.url}/executions/{mapped}")
    page.locator('#graph g.node[data-step="Each"][data-status="succeeded"]').wait_for()
    page.locator("#timeline li").first.wait_for()
    page.locator('details[data-inner="Each"] summary', has_text="5,000 succeeded").wait_for()
    rendered = time.perf_counter() - began
    shot(page, screenshots, "map-5000")
    print(f"5,000-item Map: page to graph, counts and timeline {rendered:.2f} s")


def test_a_definition_s_source_is_highlighted_and_its_inputs_fill_the_editor(
    server: ConsoleServer, page: Any
) -> None:
    definition_id = server.register(
        "version: 1.0\ninput:\n  - who\n  - times: 2\ntasks:\n  greet:\n    action: core.noop\n"
    )
    page.goto(f"{server.url}/definitions/{definition_id}")
    source = page.get_by_label("definition source")
    source.locator(".hljs-attr", has_text="action").wait_for()
    assert source.get_attribute("data-language") == "yaml"
    assert "who, times" in page.locator("#start-input-names").inner_text()
    editor = page.get_by_label("Input (JSON)")
    assert json.loads(editor.input_value()) == {"who": None, "times": 2}

    editor.fill("[1, 2]")
    page.get_by_role("button", name="Start").click()
    page.get_by_role("alert").get_by_text("must be a JSON object").wait_for()
    editor.fill('{"who": "ada"}')
    page.get_by_role("button", name="Start").click()
    page.wait_for_url("**/executions/*")

    machine = server.register(json.dumps(CHOICE_MACHINE), kind="states")
    page.goto(f"{server.url}/definitions/{machine}")
    source = page.get_by_label("definition source")
    source.locator(".hljs-attr", has_text="StartAt").wait_for()
    assert source.get_attribute("data-language") == "json"


MAP_AND_PARALLEL = {
    "StartAt": "Each",
    "States": {
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.xs",
            "ItemProcessor": {
                "StartAt": "Double",
                "States": {"Double": {"Type": "Pass", "End": True}},
            },
            "Next": "Both",
        },
        "Both": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "Left", "States": {"Left": {"Type": "Pass", "End": True}}},
                {"StartAt": "Right", "States": {"Right": {"Type": "Fail", "Error": "No"}}},
            ],
            "End": True,
        },
    },
}


@pytest.mark.timeout(600)
def test_map_and_parallel_states_expand_to_their_insides_with_counts(
    server: ConsoleServer, page: Any, screenshots: Path, fresh_build: Path
) -> None:
    execution_id = server.start(json.dumps(MAP_AND_PARALLEL), {"xs": [1, 2, 3]}, kind="states")
    assert server.wait_for(execution_id, lambda e: bool(e["final"]))["status"] == "failed"

    page.goto(f"{server.url}/executions/{execution_id}")
    each = page.locator('details[data-inner="Each"]')
    each.locator("summary", has_text="Inside Map Each: 3 items, 3 succeeded").wait_for()
    inner = each.locator('g.node[data-step="Double"]')
    assert not inner.is_visible()
    each.locator("summary").click()
    inner.wait_for()
    assert inner.get_attribute("data-status") == "succeeded"

    both = page.locator('details[data-inner="Both"]')
    assert "2 branches" in both.locator("summary").inner_text()
    both.locator("summary").click()
    assert both.locator("h3").all_inner_texts() == ["branch 1", "branch 2"]
    assert both.locator('g.node[data-step="Left"]').get_attribute("data-status") == "succeeded"
    assert both.locator('g.node[data-step="Right"]').get_attribute("data-status") == "failed"
    shot(page, screenshots, "map-parallel-expanded")
    axe = fresh_build / "node_modules" / "axe-core" / "axe.min.js"
    assert serious_violations(page, axe) == []


@pytest.mark.timeout(600)
def test_the_first_page_of_ten_thousand_executions_renders_with_its_counts(
    tmp_path: Path, page: Any, screenshots: Path
) -> None:
    from cadenza.engine.engine import Engine

    # Filled in this process before the server opens the store: 10,000 finished
    # executions of two workflows, a third of them tagged team=b.
    engine = Engine(f"sqlite:///{tmp_path / 'cadenza.db'}")
    source = "version: 1.0\ntasks:\n  a:\n    action: core.noop\n"
    billing = engine.register(source, kind="orquesta", name="nightly-billing")
    reports = engine.register(source + "\n", kind="orquesta", name="reports")
    for i in range(10_000):
        team = "team=b" if i % 3 == 0 else "team=a"
        engine.start(billing if i % 2 else reports, {}, tags=[team])
    engine.run_until_idle()
    engine.close()

    server = start_console_server(tmp_path)
    try:
        began = time.perf_counter()
        page.goto(server.url + "/")
        page.locator("table.executions tbody tr").nth(49).wait_for()
        page.get_by_role("list", name="executions by status").get_by_text(
            "10,000 matching"
        ).wait_for()
        first_page = time.perf_counter() - began

        began = time.perf_counter()
        page.goto(server.url + "/?q=billing&tag=team%3Db")
        page.get_by_role("list", name="executions by status").get_by_text(
            "1,667 matching"
        ).wait_for()
        page.locator("table.executions tbody tr").nth(49).wait_for()
        filtered = time.perf_counter() - began
        names = page.locator("table.executions tbody tr td:nth-child(3)").all_inner_texts()
        assert set(names) == {"nightly-billing"}
        shot(page, screenshots, "executions-10000")
        print(
            f"\n10,000 executions: first page with counts {first_page:.2f} s; "
            f"searched and tag-filtered page with counts {filtered:.2f} s"
        )
    finally:
        server.stop()
