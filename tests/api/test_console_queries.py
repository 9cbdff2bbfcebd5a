"""What the console asks of the HTTP API, against a real server process on
SQLite and on PostgreSQL: text search and tags, counts by status with the
list's filters, ETags on polled answers, the "needs attention" queries (no
progress for a while, leases lost more than once, queues and their polls) and
the tasks of a large fan-out.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cadenza.api.queue_polls import QueuePolls

from .test_http_api import ONE_TASK, Server, register, start_server

# A task only an outside worker runs: it waits on the queue until claimed.
OUTSIDE = """\
version: 1.0
tasks:
  greet:
    action: ext.greet
"""

FAN_OUT = """\
version: 1.0
input:
  - xs
tasks:
  each:
    with: x in <% ctx(xs) %>
    action: core.noop
"""


@pytest.fixture
def server(store_url: str, tmp_path: Path) -> Iterator[Server]:
    running = start_server(store_url, tmp_path)
    yield running
    running.stop()


def start(server: Server, definition_id: str, **extra: Any) -> dict[str, Any]:
    answer = server.http.post("/v1/executions", json={"definition_id": definition_id, **extra})
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def listed(server: Server, **params: Any) -> list[str]:
    answer = server.http.get("/v1/executions", params=params)
    assert answer.status_code == 200, answer.text
    return [e["id"] for e in answer.json()["executions"]]


def counts(server: Server, **params: Any) -> dict[str, Any]:
    answer = server.http.get("/v1/executions/counts", params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_executions_are_found_by_tags_and_by_text_in_id_or_name(server: Server) -> None:
    billing = register(server, ONE_TASK, name="billing-nightly")
    other = register(server, ONE_TASK.replace("hi", "ho"), name="Reports_50%")
    nightly = start(server, billing["id"], tags=["team=billing", "nightly", "nightly"])
    adhoc = start(server, billing["id"], tags=["team=billing"])
    report = start(server, other["id"], tags=["team=reports"])
    untagged = start(server, other["id"])

    assert nightly["tags"] == ["nightly", "team=billing"]
    assert server.http.get(f"/v1/executions/{untagged['id']}").json()["tags"] == []
    listed_all = server.http.get("/v1/executions").json()["executions"]
    assert {e["id"]: e["tags"] for e in listed_all}[report["id"]] == ["team=reports"]

    assert sorted(listed(server, tag="team=billing")) == sorted([nightly["id"], adhoc["id"]])
    # Several tags: all of them, matched whole.
    assert listed(server, tag=["team=billing", "nightly"]) == [nightly["id"]]
    assert listed(server, tag="team") == []
    assert listed(server, tag="team=billing", q="reports") == []

    # Text in the name, any case; in the id, a prefix as people copy it.
    assert sorted(listed(server, q="NIGHTLY")) == sorted([nightly["id"], adhoc["id"]])
    assert listed(server, q=report["id"][:13]) == [report["id"]]
    # LIKE's wildcards are plain characters in a search.
    assert sorted(listed(server, q="s_50%")) == sorted([report["id"], untagged["id"]])
    assert listed(server, q="s_5_%") == []

    assert counts(server, tag="team=billing")["total"] == 2
    assert counts(server, q="reports_")["total"] == 2


def test_bad_tags_and_searches_are_refused_naming_the_problem(server: Server) -> None:
    definition = register(server, ONE_TASK)
    for tags, word in [
        ([" padded"], "spaces"),
        (["=value"], "key=value"),
        (["x" * 201], "200"),
        (["tab\there"], "printable"),
    ]:
        answer = server.http.post(
            "/v1/executions", json={"definition_id": definition["id"], "tags": tags}
        )
        assert answer.status_code == 400, answer.text
        assert word in answer.json()["message"]
    too_many = server.http.post(
        "/v1/executions",
        json={"definition_id": definition["id"], "tags": [f"t{i}" for i in range(51)]},
    )
    assert too_many.status_code == 422 and "tags" in too_many.text
    long_search = server.http.get("/v1/executions", params={"q": "x" * 201})
    assert long_search.status_code == 422 and "q" in long_search.text
    assert server.http.get("/v1/executions").json()["executions"] == []
    bad_stalled = server.http.get("/v1/executions/counts", params={"stalled_for": -1})
    assert bad_stalled.status_code == 422 and "stalled_for" in bad_stalled.text


def test_counts_by_status_take_the_list_s_filters(server: Server) -> None:
    done = register(server, ONE_TASK)
    waiting = register(server, OUTSIDE)
    finished = [start(server, done["id"], tags=["batch"]) for _ in range(3)]
    running = [start(server, waiting["id"], tags=["batch"]) for _ in range(2)]
    start(server, waiting["id"])
    for execution in finished:
        server.wait_for(execution["id"], lambda e: e["status"] == "succeeded")
    for execution in running:
        server.wait_for(execution["id"], lambda e: e["status"] == "running")

    assert counts(server) == {"counts": {"succeeded": 3, "running": 3}, "total": 6}
    assert counts(server, tag="batch") == {"counts": {"succeeded": 3, "running": 2}, "total": 5}
    assert counts(server, definition_id=done["id"])["counts"] == {"succeeded": 3}
    assert counts(server, status="running", tag="batch")["counts"] == {"running": 2}
    assert counts(server, kind="states")["counts"] == {}
    after_all = time.time() + 3600
    assert counts(server, since=after_all)["total"] == 0


def test_polled_answers_carry_etags_and_an_unchanged_one_is_a_304(server: Server) -> None:
    definition = register(server, OUTSIDE)
    execution = start(server, definition["id"])
    server.wait_for(execution["id"], lambda e: e["status"] == "running")
    for path in (
        "/v1/executions",
        "/v1/executions/counts",
        f"/v1/executions/{execution['id']}",
        f"/v1/executions/{execution['id']}/tasks",
    ):
        first = server.http.get(path)
        assert first.status_code == 200, first.text
        etag = first.headers["etag"]
        again = server.http.get(path, headers={"if-none-match": etag})
        assert again.status_code == 304, path
        assert again.content == b"" and again.headers["etag"] == etag
        other = server.http.get(path, headers={"if-none-match": 'W/"something-else"'})
        assert other.status_code == 200 and other.json() == first.json()

    before = server.http.get(f"/v1/executions/{execution['id']}")
    server.http.post(f"/v1/executions/{execution['id']}/cancel")
    server.wait_for(execution["id"], lambda e: e["status"] != "running")
    after = server.http.get(
        f"/v1/executions/{execution['id']}", headers={"if-none-match": before.headers["etag"]}
    )
    assert after.status_code == 200 and after.json()["status"] != "running"
    assert after.headers["etag"] != before.headers["etag"]


def test_executions_without_progress_are_found_by_how_long_they_stalled(
    server: Server,
) -> None:
    waits = register(server, OUTSIDE)
    finishes = register(server, ONE_TASK)
    stalled = start(server, waits["id"])
    done = start(server, finishes["id"])
    server.wait_for(stalled["id"], lambda e: e["status"] == "running")
    server.wait_for(done["id"], lambda e: e["status"] == "succeeded")
    # A finished execution never counts as stalled, however old.
    assert listed(server, stalled_for=0) == [stalled["id"]]
    assert listed(server, stalled_for=3600) == []
    assert counts(server, stalled_for=0) == {"counts": {"running": 1}, "total": 1}


def claim(server: Server, **body: Any) -> list[dict[str, Any]]:
    answer = server.http.post(
        "/v1/workers/tasks/claim",
        json={"worker": "w1", "actions": ["ext.greet"], "wait": 45, **body},
        timeout=90,
    )
    assert answer.status_code == 200, answer.text
    tasks: list[dict[str, Any]] = answer.json()["tasks"]
    return tasks


def test_a_task_whose_lease_lapsed_twice_is_listed(server: Server) -> None:
    definition = register(server, OUTSIDE)
    execution = start(server, definition["id"])
    (first,) = claim(server, lease=1)
    assert server.http.get("/v1/tasks/lost-leases").json()["tasks"] == []
    # No heartbeats: each lease lapses and the task comes back.
    (second,) = claim(server, lease=1)
    (third,) = claim(server, lease=60)
    assert first["task_id"] == second["task_id"] == third["task_id"]
    assert third["attempt"] == 3

    (lost,) = server.http.get("/v1/tasks/lost-leases").json()["tasks"]
    assert lost["execution_id"] == execution["id"] and lost["task_id"] == first["task_id"]
    assert lost["lost"] == 2 and lost["name"] == "greet" and lost["queue"] == "default"
    assert server.http.get("/v1/tasks/lost-leases", params={"at_least": 3}).json() == {"tasks": []}
    # Once the task is answered and the execution is over, it needs no attention.
    server.http.post("/v1/workers/tasks/complete", json={"token": third["token"]})
    server.wait_for(execution["id"], lambda e: e["status"] == "succeeded")
    assert server.http.get("/v1/tasks/lost-leases").json()["tasks"] == []


def test_queues_show_waiting_tasks_and_the_server_s_own_polls(server: Server) -> None:
    definition = register(server, OUTSIDE)
    start(server, definition["id"])
    start(server, definition["id"])
    deadline = time.monotonic() + 30
    while True:
        queues = {q["queue"]: q for q in server.http.get("/v1/queues").json()["queues"]}
        if queues.get("default", {}).get("tasks", {}).get("scheduled") == 2:
            break
        assert time.monotonic() < deadline, queues
        time.sleep(0.05)  # polling the API with a deadline; nothing to wait on
    # The server's own loop serves "default": it asked for work just now.
    assert queues["default"]["polled_recently"] is True
    assert queues["default"]["last_poll"] is not None
    assert server.http.get("/v1/queues", params={"recent": 0}).status_code == 422


def test_queue_polls_remember_the_latest_poll_of_each_queue() -> None:
    polls = QueuePolls()
    assert polls.last_polls() == {}
    polls.saw(["a", "b"], 10.0)
    polls.saw(["a"], 12.0)
    # A late report of an older poll does not move the time back.
    polls.saw(["a"], 11.0)
    assert polls.last_polls() == {"a": 12.0, "b": 10.0}


@pytest.mark.slow
def test_the_tasks_of_a_large_fan_out_come_from_the_saved_state(server: Server) -> None:
    definition = register(server, FAN_OUT)
    execution = start(server, definition["id"], input={"xs": list(range(2000))})
    server.wait_for(execution["id"], lambda e: e["status"] == "succeeded", timeout=300)
    began = time.perf_counter()
    answer = server.http.get(f"/v1/executions/{execution['id']}/tasks")
    took = time.perf_counter() - began
    assert answer.status_code == 200
    assert [(t["name"], t["status"]) for t in answer.json()["tasks"]] == [("each", "succeeded")]
    history = server.http.get(
        f"/v1/executions/{execution['id']}/history", params={"limit": 10_000}
    ).json()["events"]
    print(f"\nGET .../tasks of a 2,000-item with-items ({len(history)} events): {took:.3f} s")


def test_tasks_from_the_saved_state_are_those_a_full_replay_gives(store_url: str) -> None:
    from cadenza.engine.engine import Engine
    from cadenza.interpreters.replay import replay_state

    engine = Engine(store_url)
    try:
        definition = engine.register(FAN_OUT, kind="orquesta")
        execution_id = engine.start(definition, {"xs": list(range(300))}, tags=["replay"])
        engine.run_until_idle()
        assert engine.get(execution_id).status == "succeeded"
        snapshot, tail = engine.store.snapshot_and_tail(execution_id)
        history = engine.history(execution_id)
        # The final decision saved a snapshot: only what came after it is replayed.
        assert snapshot is not None and len(tail) < len(history)
        interpreter = engine.compile(definition.source, kind="orquesta")
        whole = interpreter.describe(replay_state(interpreter, history))
        assert engine.describe(execution_id).tasks == whole.tasks
        assert engine.store.execution_tags([execution_id, "no-such-id"]) == {
            execution_id: ("replay",)
        }
    finally:
        engine.close()


def test_cadenza_run_tags_and_ps_finds_by_tag_and_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from cadenza.cli.main import main

    store = f"sqlite:///{tmp_path / 'cadenza.db'}"
    (tmp_path / "nightly-report.yaml").write_text(ONE_TASK)
    (tmp_path / "other.yaml").write_text(ONE_TASK)
    run = ["run", "--store", store, "--quiet", "--json"]
    assert (
        main([*run, "--tag", "team=a", "--tag", "nightly", str(tmp_path / "nightly-report.yaml")])
        == 0
    )
    tagged = json.loads(capsys.readouterr().out)["execution_id"]
    assert main([*run, str(tmp_path / "other.yaml")]) == 0
    other = json.loads(capsys.readouterr().out)["execution_id"]

    def ps(*options: str) -> list[str]:
        assert main(["ps", "--store", store, "--json", *options]) == 0
        return [row["execution_id"] for row in json.loads(capsys.readouterr().out)]

    assert ps("--tag", "nightly") == [tagged]
    assert ps("--tag", "nightly", "--tag", "team=b") == []
    assert ps("--search", "REPORT") == [tagged]
    assert ps("--search", other[:8]) == [other]
    assert main([*run, "--tag", " padded", str(tmp_path / "other.yaml")]) != 0
    assert "no spaces around" in capsys.readouterr().err
