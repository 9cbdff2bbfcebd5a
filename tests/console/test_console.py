"""The console in a real browser against a real ``cadenza server``: the list
and its filters, an execution of each language with its graph and timeline,
answering a question through its form, rerunning a failed execution, cancelling
one. Each test saves a screenshot of what it saw.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import ConsoleServer

pytestmark = pytest.mark.slow

TWO_TASKS = """\
version: 1.0
tasks:
  greet:
    action: core.echo
    input:
      message: hello
    next:
      - when: <% succeeded() %>
        do: shout
  shout:
    action: core.echo
    input:
      message: HELLO
"""

# Fails until the file "ready" exists in the server's working directory.
NEEDS_FILE = """\
version: 1.0
tasks:
  check:
    action: core.local
    input:
      cmd: test -f ready
"""

ASK = """\
version: 1.0
tasks:
  approve:
    action: core.ask
    input:
      schema:
        type: object
        properties:
          ok:
            type: boolean
            description: Go ahead with the release?
          reviewer:
            type: string
            minLength: 3
        required: [ok, reviewer]
    next:
      - when: <% succeeded() %>
        publish:
          - answer: <% result() %>
output:
  - answer: <% ctx().answer %>
"""

CHOICE_MACHINE = {
    "Comment": "picks a path by size",
    "StartAt": "Measure",
    "States": {
        "Measure": {"Type": "Pass", "Result": {"size": 3}, "Next": "Big?"},
        "Big?": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.size", "NumericGreaterThan": 2, "Next": "Large"}],
            "Default": "Small",
        },
        "Large": {"Type": "Pass", "End": True},
        "Small": {"Type": "Pass", "End": True},
    },
}


def shot(page: Any, screenshots: Path, name: str) -> None:
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)


def final(execution: dict[str, Any]) -> bool:
    return bool(execution["final"])


def test_the_list_shows_executions_and_filters_them(
    server: ConsoleServer, page: Any, screenshots: Path
) -> None:
    done = server.start(TWO_TASKS)
    failed = server.start(NEEDS_FILE)
    server.wait_for(done, final)
    assert server.wait_for(failed, final)["status"] == "failed"

    page.goto(server.url + "/")
    page.locator(f'tr[data-execution="{done}"]').wait_for()
    page.locator(f'tr[data-execution="{failed}"]').wait_for()
    counts = page.get_by_role("list", name="executions by status")
    counts.get_by_text("failed").wait_for()
    shot(page, screenshots, "executions")

    page.get_by_role("group", name="Status").get_by_label("failed").check()
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**/?status=failed")
    page.locator(f'tr[data-execution="{done}"]').wait_for(state="detached")
    assert page.locator(f'tr[data-execution="{failed}"]').is_visible()
    assert all(
        status == "failed"
        for status in page.locator("table.executions tbody tr .badge").all_inner_texts()
    )

    page.get_by_role("link", name="Needs attention").click()
    page.get_by_role("heading", name="Needs attention").wait_for()
    page.locator(f'tr[data-execution="{failed}"]').wait_for()
    assert page.locator(f'tr[data-execution="{done}"]').count() == 0


def test_an_orquesta_execution_shows_its_graph_timeline_and_history(
    server: ConsoleServer, page: Any, screenshots: Path
) -> None:
    execution_id = server.start(TWO_TASKS)
    server.wait_for(execution_id, final)

    page.goto(f"{server.url}/executions/{execution_id}")
    graph = page.locator("#graph svg")
    graph.locator('g.node[data-step="shout"][data-status="succeeded"]').wait_for()
    assert graph.locator('g.node[data-step="greet"]').get_attribute("data-status") == "succeeded"
    assert graph.locator("g.edge").count() == 1
    assert page.locator("#timeline li").count() == 2
    assert page.locator('#timeline li[data-task="greet"]').inner_text().startswith("greet")

    history = page.locator("#history table")
    history.get_by_role("cell", name="ExecutionCompleted").wait_for()
    started = history.locator("tr", has_text="ExecutionStarted")
    started.get_by_role("button").click()
    assert started.get_by_role("button").get_attribute("aria-expanded") == "true"
    page.get_by_label("payload of event 1").wait_for()
    shot(page, screenshots, "execution-orquesta")


def test_a_state_machine_execution_shows_its_states_and_choices(
    server: ConsoleServer, page: Any, screenshots: Path
) -> None:
    execution_id = server.start(json.dumps(CHOICE_MACHINE))
    assert server.wait_for(execution_id, final)["status"] == "succeeded"

    page.goto(f"{server.url}/executions/{execution_id}")
    graph = page.locator("#graph svg")
    graph.locator('g.node[data-step="Large"]').wait_for()
    steps = graph.locator("g.node").evaluate_all("nodes => nodes.map(n => n.dataset.step)")
    assert sorted(steps) == ["Big?", "Large", "Measure", "Small"]
    # Next, one Choice rule and the Default: three transitions.
    assert graph.locator("g.edge").count() == 3
    # Colours come from the Step Functions view: the path taken, and not the other.
    assert graph.locator('g.node[data-step="Large"]').get_attribute("data-status") == "succeeded"
    assert graph.locator('g.node[data-step="Small"]').get_attribute("data-status") == ""
    timeline = page.locator("#timeline li").evaluate_all("rows => rows.map(r => r.dataset.task)")
    assert timeline == ["Measure", "Big?", "Large"]
    page.locator("#output").get_by_text('"size": 3').wait_for()
    shot(page, screenshots, "execution-states")


def test_a_question_is_answered_through_the_form_of_its_schema(
    server: ConsoleServer, page: Any, screenshots: Path
) -> None:
    execution_id = server.start(ASK)
    server.wait_for(execution_id, lambda e: e["status"] == "paused")

    page.goto(f"{server.url}/executions/{execution_id}")
    answers = page.locator("#answers")
    answers.get_by_label("ok (required)").wait_for()
    waiting = page.locator('#tasks tr[data-task="approve"]')
    assert "an answer from a person" in waiting.inner_text()
    shot(page, screenshots, "answer-form")
    answers.get_by_label("ok (required)").check()
    answers.get_by_label("reviewer (required)").fill("ada")
    answers.get_by_role("button", name="Answer approve").click()

    page.locator("h1 .badge", has_text="succeeded").wait_for()
    answer = server.wait_for(execution_id, final)["output"]["answer"]
    assert answer.get("response", answer) == {"ok": True, "reviewer": "ada"}


def test_a_refused_answer_shows_the_api_s_error(server: ConsoleServer, page: Any) -> None:
    execution_id = server.start(ASK)
    server.wait_for(execution_id, lambda e: e["status"] == "paused")

    page.goto(f"{server.url}/executions/{execution_id}")
    answers = page.locator("#answers")
    # The form does not check lengths: the API's schema check refuses it.
    answers.get_by_label("reviewer (required)").fill("al")
    answers.get_by_role("button", name="Answer approve").click()
    alert = answers.get_by_role("alert")
    alert.wait_for()
    assert "input.invalid" in alert.inner_text()
    assert server.http.get(f"/v1/executions/{execution_id}").json()["status"] == "paused"


def test_a_failed_execution_is_rerun_and_succeeds(
    server: ConsoleServer, page: Any, screenshots: Path
) -> None:
    (server.workdir / "ready").unlink(missing_ok=True)
    execution_id = server.start(NEEDS_FILE)
    assert server.wait_for(execution_id, final)["status"] == "failed"

    page.goto(f"{server.url}/executions/{execution_id}")
    page.locator("#errors").wait_for()
    page.locator('#graph g.node[data-step="check"][data-status="failed"]').wait_for()
    shot(page, screenshots, "execution-failed")

    (server.workdir / "ready").touch()
    page.get_by_role("button", name="Rerun").click()
    page.locator("h1 .badge", has_text="succeeded").wait_for(timeout=60_000)
    page.locator('#graph g.node[data-step="check"][data-status="succeeded"]').wait_for()
    assert server.http.get(f"/v1/executions/{execution_id}").json()["status"] == "succeeded"


def test_an_execution_is_cancelled_after_confirmation(server: ConsoleServer, page: Any) -> None:
    execution_id = server.start(ASK)
    server.wait_for(execution_id, lambda e: e["status"] == "paused")

    page.goto(f"{server.url}/executions/{execution_id}")
    confirmations: list[str] = []
    page.on("dialog", lambda dialog: confirmations.append(dialog.message))
    page.get_by_role("button", name="Cancel").click()
    page.locator("h1 .badge", has_text="canceled").wait_for()
    assert confirmations and execution_id in confirmations[0]
    assert server.http.get(f"/v1/executions/{execution_id}").json()["status"] == "canceled"


def test_a_definition_is_shown_and_started_with_input(
    server: ConsoleServer, page: Any, screenshots: Path
) -> None:
    definition_id = server.register(TWO_TASKS)
    page.goto(f"{server.url}/definitions")
    page.locator(f'a[href="/definitions/{definition_id}"]').click()
    page.get_by_label("definition source").get_by_text("core.echo").first.wait_for()
    assert page.locator("#graph g.node").count() == 2

    editor = page.get_by_label("Input (JSON)")
    editor.fill("{not json")
    page.get_by_role("button", name="Start").click()
    page.get_by_role("alert").get_by_text("Not JSON").wait_for()
    editor.fill('{"who": "ada"}')
    shot(page, screenshots, "definition")
    page.get_by_role("button", name="Start").click()
    page.wait_for_url("**/executions/*")
    execution_id = page.url.rsplit("/", 1)[1]
    started = server.wait_for(execution_id, final)
    assert started["definition_id"] == definition_id


def test_the_console_does_not_shadow_the_api(server: ConsoleServer) -> None:
    page = server.http.get("/executions/anything")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert server.http.get("/v1/executions/nope").json()["code"] == "execution.not_found"
    assert server.http.get("/v1/nothing-here").status_code == 404
    assert "openapi" in server.http.get("/openapi.json").json()
    assert server.http.get("/assets/../../__init__.py").status_code == 404


# Charging fails, so the reservation is undone; its undo fails until the file
# "unlocked" exists, and with one attempt the saga is stuck at once.
STUCK_SAGA = """\
saga: reserve-and-charge
version: "1"
stages:
  - action: reserve
    do: core.local
    input: {cmd: "true"}
    undo: core.local
    undo_input: {cmd: "test -f unlocked"}
    undo_retry: {max_attempts: 1}
  - action: charge
    do: core.local
    input: {cmd: "exit 1"}
"""


def test_a_stuck_saga_needs_attention_and_an_operator_retries_its_undo(
    server: ConsoleServer, page: Any, screenshots: Path
) -> None:
    (server.workdir / "unlocked").unlink(missing_ok=True)
    execution_id = server.start(STUCK_SAGA, kind="saga")
    server.wait_for(execution_id, lambda e: e["status"] == "stuck")

    page.goto(server.url + "/attention")
    row = page.locator(f'tr[data-execution="{execution_id}"]')
    row.get_by_text("stuck").wait_for()
    row.get_by_role("link").first.click()
    page.locator("h1 .badge", has_text="stuck").wait_for()
    graph = page.locator("#graph svg")
    graph.locator('g.node[data-step="reserve"][data-status="stuck"]').wait_for()
    assert graph.locator('g.node[data-step="charge"]').get_attribute("data-status") == "failed"
    assert graph.locator("g.edge").count() == 1

    form = page.locator("form.operator-request")
    form.get_by_label("Request").select_option("retry-undo")
    form.get_by_label("Reason").fill("the reservation store is unlocked")
    shot(page, screenshots, "saga-stuck")
    (server.workdir / "unlocked").touch()
    form.get_by_role("button", name="Send request").click()
    page.locator("h1 .badge", has_text="failed").wait_for()
    history = server.http.get(f"/v1/executions/{execution_id}/history").json()["events"]
    asked = [e["payload"] for e in history if e["type"] == "OperatorRequested"]
    assert asked == [
        {
            "request": "retry-undo",
            "args": {},
            "by": "console",
            "reason": "the reservation store is unlocked",
        }
    ]


FAN_OUT = """\
version: 1.0
input:
  - xs
tasks:
  each:
    with: x in <% ctx(xs) %>
    action: core.noop
"""


def test_a_fan_out_is_one_step_and_one_bar(server: ConsoleServer, page: Any) -> None:
    execution_id = server.start(FAN_OUT, {"xs": list(range(30))})
    assert server.wait_for(execution_id, final)["status"] == "succeeded"

    page.goto(f"{server.url}/executions/{execution_id}")
    page.locator('#graph g.node[data-step="each"][data-status="succeeded"]').wait_for()
    bars = page.locator("#timeline li")
    assert bars.count() == 1
    assert bars.first.inner_text().startswith("each \u00d730")


# The first task runs until the file "go" exists in the server's working directory.
GATED = """\
version: 1.0
tasks:
  wait_for_go:
    action: core.local
    input:
      cmd: while [ ! -f go ]; do sleep 0.05; done
    next:
      - when: <% succeeded() %>
        do: after
  after:
    action: core.echo
    input:
      message: done
"""


def test_an_execution_is_paused_and_resumed(server: ConsoleServer, page: Any) -> None:
    (server.workdir / "go").unlink(missing_ok=True)
    execution_id = server.start(GATED)
    try:
        page.goto(f"{server.url}/executions/{execution_id}")
        page.locator('#graph g.node[data-step="wait_for_go"][data-status="running"]').wait_for()
        waiting = page.locator('#tasks tr[data-task="wait_for_go"]').inner_text()
        assert "a worker to run it" in waiting

        page.get_by_role("button", name="Pause").click()
        page.locator("h1 .badge", has_text="pausing").wait_for()
    finally:
        # Whatever happened, the task must end, or it outlives the test.
        (server.workdir / "go").touch()
    # The running task finishes; nothing new starts while paused.
    page.locator("h1 .badge", has_text="paused").wait_for()
    assert page.locator('#graph g.node[data-step="after"]').get_attribute("data-status") == ""

    page.get_by_role("button", name="Resume").click()
    page.locator("h1 .badge", has_text="succeeded").wait_for()
    assert page.locator('#graph g.node[data-step="after"]').get_attribute("data-status") == (
        "succeeded"
    )
