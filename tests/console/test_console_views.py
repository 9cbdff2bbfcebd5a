"""The console's views of code workflows, trigger workspaces and state machines
written in YAML, its timeline of attempts and retries, and redriving a failed
state machine from the browser, against a real ``cadenza server``. Each test
saves a screenshot of what it saw.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cadenza.engine.engine import Engine
from cadenza.interpreters.code import register_activities
from cadenza.interpreters.code.frontend import create
from cadenza.model.definitions import CodeReference
from cadenza.store import open_store
from cadenza.testing.clock import FakeClock
from cadenza.workers.registry import default_registry

from .conftest import ConsoleServer, start_console_server
from .test_accessibility import serious_violations

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
FN = "arn:aws:lambda:us-east-1:111111111111:function:"

# Fails while the file "broken" is in the server's working directory.
HANDLERS = """
import os
def load(event):
    if os.path.exists("broken"):
        raise RuntimeError("the warehouse is down")
    return {"loaded": event.get("rows", 0)}
"""

PIPELINE = {
    "StartAt": "Count",
    "States": {
        "Count": {"Type": "Pass", "Result": {"rows": 3}, "Next": "Load"},
        "Load": {"Type": "Task", "Resource": f"{FN}load", "End": True},
    },
}

YAML_MACHINE = """\
StartAt: Measure
States:
  Measure: {Type: Pass, Result: {size: 3}, Next: "Big?"}
  "Big?":
    Type: Choice
    Choices: [{Variable: $.size, NumericGreaterThan: 2, Next: Large}]
    Default: Small
  Large: {Type: Pass, End: true}
  Small: {Type: Pass, End: true}
"""

WORKSPACE = """\
workspace: orders
triggers:
  - id: open-order
    activation: [{subject: __init__, type: event.triggerflow.init}]
    action: EMIT
    context: {emit: {subject: order, type: opened}}
  - id: note-opened
    activation: [{subject: order, type: opened}]
    action: PASS
  - id: both-paid
    activation: [{subject: payment, type: paid}]
    condition: JOIN
    context: {join: 2, result: both paid}
    action: TERMINATE
"""


#: Items of the ``Crew`` fan-out: more than the console draws one by one.
FAN_OUT = [f"sailor {n}" for n in range(25)]


def shot(page: Any, screenshots: Path, name: str, *sections: str) -> None:
    """The whole page as ``name``; with ``sections`` (CSS selectors), also the part
    of the page from the first to the last of them as ``name-part``, for the docs."""
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)
    if not sections:
        return
    boxes = [page.locator(section).bounding_box() for section in sections]
    top = min(box["y"] for box in boxes)
    bottom = max(box["y"] + box["height"] for box in boxes)
    clip = {"x": 0, "y": top - 8, "width": 1280, "height": bottom - top + 16}
    page.screenshot(path=str(screenshots / f"{name}-part.png"), full_page=True, clip=clip)


def paid(number: int) -> dict[str, Any]:
    """A CloudEvent for the workspace: a payment arrived."""
    return {
        "specversion": "1.0",
        "id": f"p{number}",
        "source": "shop",
        "subject": "payment",
        "type": "paid",
    }


def run_code_workflows(workdir: Path) -> tuple[str, str, str]:
    """Executions of ``console_flows`` in the store the server will open: a
    ``Shipment`` finished, another waiting for its ``shipped`` signal, and a
    ``Crew`` fan-out. Run here with a fake clock (backoff and timer pass at
    once), dated a few minutes ago."""
    if str(HERE) not in sys.path:
        sys.path.append(str(HERE))
    # Imported by the name the server imports it by (its folder on the path).
    console_flows = importlib.import_module("console_flows")

    registry = default_registry()
    register_activities(registry, console_flows)
    store = open_store(f"sqlite:///{workdir / 'cadenza.db'}")
    clock = FakeClock(time.time() - 600)
    console_flows.WORK_CLOCK["clock"] = clock
    engine = Engine(store, registry=registry, clock=clock, front_ends={"code": create})
    definition = engine.register(CodeReference("console_flows:Shipment", "1"))
    done = engine.start(definition, "A7")
    engine.run_until_idle(skip_time=True)
    engine.signal(done, "shipped", {"by": "sloop"}, by="test")
    engine.run_until_idle(skip_time=True)
    assert engine.get(done).status == "succeeded"
    waiting = engine.start(definition, "B8")
    engine.run_until_idle(skip_time=True)
    assert engine.get(waiting).status == "running"
    crew = engine.start(engine.register(CodeReference("console_flows:Crew", "1")), [FAN_OUT])
    engine.run_until_idle(skip_time=True)
    assert engine.get(crew).status == "succeeded"
    console_flows.WORK_CLOCK["clock"] = None
    store.close()
    return done, waiting, crew


@pytest.fixture(scope="module")
def views_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ConsoleServer, str, str, str]]:
    workdir = tmp_path_factory.mktemp("console-views")
    done, waiting, crew = run_code_workflows(workdir)
    (workdir / "pipeline_handlers.py").write_text(HANDLERS)
    (workdir / "resources.yaml").write_text(f"{FN}load:\n  python: pipeline_handlers:load\n")
    running = start_console_server(
        workdir,
        args=["--resources", str(workdir / "resources.yaml")],
        # The server decides for the code workflow: it imports its module.
        env_extra={"PYTHONPATH": str(HERE)},
    )
    yield running, done, waiting, crew
    running.stop()


def test_a_code_workflow_s_task_tree_is_its_graph(
    views_server: tuple[ConsoleServer, str, str, str], page: Any, screenshots: Path
) -> None:
    server, done, _, _ = views_server
    page.goto(f"{server.url}/executions/{done}")
    graph = page.locator("#graph")
    graph.locator(
        'g.node[data-step="console_flows.fetch_order#1"][data-status="succeeded"]'
    ).wait_for()
    # The two reservations ran side by side after the fetch, the charge after both.
    for step in ("console_flows.reserve#1", "console_flows.reserve#2", "timer#1"):
        graph.locator(f'g.node[data-step="{step}"][data-status="succeeded"]').wait_for()
    assert graph.locator("g.node").count() == 9  # start, 4 activities, timer, marker, signal, end
    assert graph.locator('g.node[data-step="(end)"][data-status="succeeded"]').count() == 1
    assert "signal shipped" in (graph.locator('g.node[data-step^="signal#"]').text_content() or "")
    assert graph.locator("g.edge").count() == 9
    # The charge failed once: two attempts with the backoff between them.
    row = page.locator('#timeline li[data-task="console_flows.flaky_charge"]')
    assert row.locator('[data-segment="attempt"][data-status="failed"]').count() == 1
    assert row.locator('[data-segment="backoff"]').count() == 1
    assert row.locator('[data-segment="attempt"][data-status="succeeded"]').count() == 1
    assert "the bank is closed" in (
        row.locator('[data-segment="attempt"][data-status="failed"]').get_attribute("title") or ""
    )
    assert (
        page.locator('#timeline li[data-task="timer 1 min 0 s"] [data-segment="timer"]').count()
        == 1
    )
    shot(page, screenshots, "execution-code", "#graph", "#timeline")


def test_a_code_workflow_s_graph_follows_it_live(
    views_server: tuple[ConsoleServer, str, str, str], page: Any
) -> None:
    server, _, waiting, _ = views_server
    page.goto(f"{server.url}/executions/{waiting}")
    graph = page.locator("#graph")
    graph.locator('g.node[data-step="timer#1"][data-status="succeeded"]').wait_for()
    assert graph.locator('g.node[data-step^="signal#"]').count() == 0
    answer = server.http.post(
        f"/v1/executions/{waiting}/signals", json={"name": "shipped", "data": {"by": "brig"}}
    )
    assert answer.status_code < 300, answer.text
    graph.locator('g.node[data-step^="signal#"]').wait_for()
    graph.locator('g.node[data-step="(end)"][data-status="succeeded"]').wait_for()
    page.locator("h1 .badge", has_text="succeeded").wait_for()


def test_a_code_workflow_s_fan_out_is_one_step_and_one_bar(
    views_server: tuple[ConsoleServer, str, str, str], page: Any
) -> None:
    server, _, _, crew = views_server
    page.goto(f"{server.url}/executions/{crew}")
    group = page.locator(
        '#graph g.node[data-step^="console_flows.reserve@"][data-status="succeeded"]'
    )
    group.wait_for()
    assert f"reserve \N{MULTIPLICATION SIGN}{len(FAN_OUT)}" in (group.text_content() or "")
    assert page.locator("#graph g.node").count() == 3  # start, the fan-out, end
    row = page.locator('#timeline li[data-task="console_flows.reserve"]')
    assert row.count() == 1
    assert f"\N{MULTIPLICATION SIGN}{len(FAN_OUT)}" in row.inner_text()


def test_a_yaml_state_machine_has_its_graph(
    views_server: tuple[ConsoleServer, str, str, str], page: Any
) -> None:
    server, _, _, _ = views_server
    execution_id = server.start(YAML_MACHINE, kind="states")
    server.wait_for(execution_id, lambda e: bool(e["final"]))
    page.goto(f"{server.url}/executions/{execution_id}")
    graph = page.locator("#graph")
    graph.locator('g.node[data-step="Large"][data-status="succeeded"]').wait_for()
    graph.locator('g.node[data-step="Big?"][data-status="succeeded"]').wait_for()
    assert graph.locator('g.node[data-step="Small"]').get_attribute("data-status") == ""
    assert "default" in graph.inner_text()


def test_a_trigger_workspace_is_drawn_with_its_fire_counts(
    views_server: tuple[ConsoleServer, str, str, str], page: Any, screenshots: Path
) -> None:
    server, _, _, _ = views_server
    execution_id = server.start(WORKSPACE, kind="triggers")
    server.wait_for(execution_id, lambda e: e["status"] == "running")
    signal = f"/v1/executions/{execution_id}/signals"
    assert server.http.post(signal, json={"name": "cloudevent", "data": paid(1)}).is_success

    page.goto(f"{server.url}/executions/{execution_id}")
    graph = page.locator("#graph")
    graph.locator('g.node[data-step="open-order"][data-status="fired"]').wait_for()
    graph.locator('g.node[data-step="note-opened"][data-status="fired"]').wait_for()
    joined = graph.locator('g.node[data-step="both-paid"][data-status="waiting"]')
    joined.wait_for()
    assert "0\N{MULTIPLICATION SIGN} JOIN→TERMINATE" in (joined.text_content() or "")
    # The outside event is a node of its own; the start's init event leads to open-order.
    graph.locator('g.node[data-step="event:payment paid"]').wait_for()
    assert graph.locator("g.edge").count() == 4  # start→open, open→note, event→both, both→end

    assert server.http.post(signal, json={"name": "cloudevent", "data": paid(2)}).is_success
    graph.locator('g.node[data-step="both-paid"][data-status="fired"]').wait_for()
    graph.locator('g.node[data-step="(succeeds)"][data-status="succeeded"]').wait_for()
    assert "1\N{MULTIPLICATION SIGN} JOIN→TERMINATE" in (
        graph.locator('g.node[data-step="both-paid"]').text_content() or ""
    )
    shot(page, screenshots, "execution-triggers", "#output", "#graph")


def test_a_failed_state_machine_is_redriven_from_the_browser(
    views_server: tuple[ConsoleServer, str, str, str], page: Any, screenshots: Path
) -> None:
    server, _, _, _ = views_server
    (server.workdir / "broken").touch()
    execution_id = server.start(json.dumps(PIPELINE), kind="states")
    assert server.wait_for(execution_id, lambda e: bool(e["final"]))["status"] == "failed"

    page.goto(f"{server.url}/executions/{execution_id}")
    page.locator('#graph g.node[data-step="Load"][data-status="failed"]').wait_for()
    page.locator('#graph g.node[data-step="Count"][data-status="succeeded"]').wait_for()
    shot(page, screenshots, "execution-states-failed", ".actions", "#timeline")

    confirmations: list[str] = []
    page.on("dialog", lambda dialog: confirmations.append(dialog.message))
    (server.workdir / "broken").unlink()
    page.get_by_role("button", name="Redrive").click()
    page.locator("h1 .badge", has_text="succeeded").wait_for(timeout=60_000)
    page.locator('#graph g.node[data-step="Load"][data-status="succeeded"]').wait_for()
    assert confirmations and execution_id in confirmations[0]
    record = server.http.get(f"/v1/executions/{execution_id}").json()
    assert record["status"] == "succeeded" and record["output"] == {"loaded": 3}
    history = server.http.get(f"/v1/executions/{execution_id}/views/sfn").json()
    assert [e["type"] for e in history].count("ExecutionRedriven") == 1

    # A succeeded execution has nothing to redrive: the API's refusal is shown.
    page.get_by_role("button", name="Redrive").click()
    refusal = page.locator(".actions [role=status], .actions [role=alert]")
    refusal.first.wait_for()
    assert "cannot be redriven" in refusal.first.inner_text()
    assert server.http.get(f"/v1/executions/{execution_id}").json()["status"] == "succeeded"


def test_a_failed_code_workflow_is_rerun_from_an_activity_with_new_input(
    views_server: tuple[ConsoleServer, str, str, str], page: Any
) -> None:
    server, _, _, _ = views_server
    console_flows = importlib.import_module("console_flows")  # on the path: run_code_workflows
    registry = default_registry()
    register_activities(registry, console_flows)
    # This process runs the activity (the server has none of console_flows'):
    # the server decides, records the rerun, and this engine serves the task.
    engine = Engine(
        open_store(f"sqlite:///{server.workdir / 'cadenza.db'}"),
        registry=registry,
        front_ends={"code": create},
    )
    try:
        failed = engine.start(engine.register(CodeReference("console_flows:Quote", "1")), "kraken")
        engine.run_until_idle()
        assert engine.get(failed).status == "failed"

        page.goto(f"{server.url}/executions/{failed}")
        page.locator(
            '#graph g.node[data-step="console_flows.price_of#1"][data-status="failed"]'
        ).wait_for()
        page.get_by_label("Rerun from activities").fill("console_flows.price_of#1")
        page.get_by_label("New input for that one activity").fill('["parrot"]')
        page.get_by_role("button", name="Rerun").click()
        page.locator(".actions [role=status]", has_text="rerun: accepted").wait_for()

        deadline = time.monotonic() + 60
        while engine.get(failed).status != "succeeded":
            assert time.monotonic() < deadline, engine.get(failed).status
            engine.run_until_idle()
        assert engine.get(failed).output == {"price": 60}
        page.locator("h1 .badge", has_text="succeeded").wait_for(timeout=60_000)

        # Input that is not JSON is refused in the browser, before any request.
        page.get_by_label("New input for that one activity").fill("[parrot")
        page.get_by_role("button", name="Rerun").click()
        assert "not JSON" in page.locator(".actions [role=alert]").first.inner_text()
    finally:
        engine.close()


# npm ci and a build come first, the first time (session fixture).
@pytest.mark.timeout(600)
def test_the_new_views_have_no_serious_violation(
    views_server: tuple[ConsoleServer, str, str, str], page: Any, fresh_build: Path
) -> None:
    server, done, _, _ = views_server
    axe = fresh_build / "node_modules" / "axe-core" / "axe.min.js"
    workspace = server.start(WORKSPACE, kind="triggers")
    server.wait_for(workspace, lambda e: e["status"] == "running")
    definition_id = server.http.get(f"/v1/executions/{workspace}").json()["definition_id"]
    pages = {
        "code execution": (f"/executions/{done}", '#graph g.node[data-step="(end)"]'),
        "workspace": (f"/executions/{workspace}", '#graph g.node[data-step="both-paid"]'),
        "workspace definition": (f"/definitions/{definition_id}", "#graph svg"),
    }
    found = {}
    for name, (path, ready) in pages.items():
        page.goto(server.url + path)
        page.locator(ready).first.wait_for()
        found[name] = serious_violations(page, axe)
    assert found == {name: [] for name in pages}
