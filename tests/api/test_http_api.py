"""The HTTP API of ``cadenza server``: a real server process, a real HTTP
client, on SQLite and on PostgreSQL.

Bad input of every kind gets a 4xx with a JSON error naming the problem, never
a 5xx, and leaves the store as it was.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ONE_TASK = "version: 1.0\ntasks:\n  a:\n    action: core.echo\n    input:\n      message: hi\n"

ASK = """\
version: 1.0
tasks:
  ask:
    action: core.ask
    input:
      schema:
        type: object
        properties:
          ok: {type: boolean}
        required: [ok]
    next:
      - when: <% succeeded() %>
        publish:
          - answer: <% result() %>
output:
  - answer: <% ctx().answer %>
"""

LISTENING = re.compile(r"listening on (http://\S+),")


class Server:
    """One ``cadenza server`` process and a client for it."""

    def __init__(
        self, process: subprocess.Popen[str], url: str, token: str | None, store_url: str = ""
    ) -> None:
        self.process = process
        self.url = url
        self.store_url = store_url
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=url, headers=headers, timeout=30)

    def wait_for(
        self, execution_id: str, done: Callable[[dict[str, Any]], bool], timeout: float = 60
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            found: dict[str, Any] = self.http.get(f"/v1/executions/{execution_id}").json()
            if done(found):
                return found
            assert time.monotonic() < deadline, f"still {found['status']}"
            time.sleep(0.05)  # polling an API with a deadline; nothing to wait on here

    def stop(self) -> None:
        self.http.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)


def start_server(
    store_url: str,
    tmp_path: Path,
    *args: str,
    token: str | None = None,
    bind: str = "127.0.0.1:0",
    extra_env: dict[str, str] | None = None,
) -> Server:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("CADENZA_STORE", "CADENZA_API_TOKEN") and not k.startswith("CADENZA_AWS_")
    }
    env.update(extra_env or {})
    if token:
        env["CADENZA_API_TOKEN"] = token
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cadenza",
            "server",
            "--bind",
            bind,
            "--store",
            store_url,
            *args,
        ],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    for line in process.stderr:
        found = LISTENING.search(line)
        if found:
            return Server(process, found.group(1), token, store_url)
        assert time.monotonic() < deadline, "the server did not start listening"
    raise AssertionError(f"the server exited ({process.wait()}) before listening")


@pytest.fixture
def server(store_url: str, tmp_path: Path) -> Iterator[Server]:
    running = start_server(store_url, tmp_path)
    yield running
    running.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def idle_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One server per backend for the tests that start nothing (bad input, the
    OpenAPI document): its store has no execution."""
    from conftest import postgres_url_for

    tmp_path = tmp_path_factory.mktemp("idle-server")
    database = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cadenza.db'}"
    else:
        databases = request.getfixturevalue("postgres_server")
        database = databases.create(template=request.getfixturevalue("postgres_template"))
        url = postgres_url_for(database)
    running = start_server(url, tmp_path)
    yield running
    running.stop()
    if database is not None:
        request.getfixturevalue("postgres_server").drop(database)


def register(server: Server, source: str, **extra: Any) -> dict[str, Any]:
    answer = server.http.post("/v1/definitions", json={"source": source, **extra})
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_register_start_and_watch_an_execution(server: Server) -> None:
    assert server.http.get("/health").json()["status"] == "ok"
    assert server.http.get("/ready").status_code == 200
    definition = register(server, ONE_TASK, name="greet")
    assert definition["kind"] == "orquesta" and definition["name"] == "greet"
    assert register(server, ONE_TASK, name="greet")["id"] == definition["id"]
    fetched = server.http.get(f"/v1/definitions/{definition['id']}").json()
    assert fetched["source"] == ONE_TASK
    newer = register(server, ONE_TASK.replace("hi", "hello"), name="greet")
    versions = server.http.get("/v1/definitions", params={"name": "greet"}).json()
    assert [d["id"] for d in versions["definitions"]] == [newer["id"], definition["id"]]
    assert server.http.get("/v1/definitions", params={"kind": "states"}).json() == {
        "definitions": []
    }
    started = server.http.post("/v1/executions", json={"definition_id": definition["id"]})
    assert started.status_code == 201
    execution_id = started.json()["id"]
    done = server.wait_for(execution_id, lambda e: e["status"] == "succeeded")
    assert done["errors"] == [] and done["kind"] == "orquesta"
    listed = server.http.get("/v1/executions", params={"status": "succeeded"}).json()
    assert [e["id"] for e in listed["executions"]] == [execution_id]
    assert server.http.get("/v1/executions", params={"status": "failed"}).json() == {
        "executions": [],
        "next_cursor": None,
    }
    # History, a page at a time.
    first = server.http.get(f"/v1/executions/{execution_id}/history", params={"limit": 2}).json()
    assert first["events"][0]["type"] == "ExecutionStarted"
    assert first["next_after_seq"] == 2
    rest = server.http.get(
        f"/v1/executions/{execution_id}/history", params={"after_seq": first["next_after_seq"]}
    ).json()
    assert rest["next_after_seq"] is None
    assert [e["seq"] for e in first["events"] + rest["events"]] == list(
        range(1, done["last_seq"] + 1)
    )
    completed = [e for e in rest["events"] if e["type"] == "TaskCompleted"]
    assert completed[0]["payload"]["result"]["stdout"] == "hi"


def test_an_idempotency_key_starts_one_execution(server: Server) -> None:
    definition = register(server, ONE_TASK)
    body = {"definition_id": definition["id"], "idempotency_key": "order-7"}
    first = server.http.post("/v1/executions", json=body)
    again = server.http.post("/v1/executions", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    other = register(server, ONE_TASK.replace("hi", "ho"))
    clash = server.http.post(
        "/v1/executions", json={"definition_id": other["id"], "idempotency_key": "order-7"}
    )
    assert clash.status_code == 409 and clash.json()["code"] == "operation.refused"
    assert len(server.http.get("/v1/executions").json()["executions"]) == 1


def test_a_person_answers_a_waiting_task_and_a_wrong_answer_is_refused(server: Server) -> None:
    definition = register(server, ASK)
    execution_id = server.http.post(
        "/v1/executions", json={"definition_id": definition["id"]}
    ).json()["id"]
    server.wait_for(execution_id, lambda e: e["status"] == "paused")
    wrong = server.http.post(
        f"/v1/executions/{execution_id}/tasks/ask/answer", json={"result": {"ok": "yes"}}
    )
    assert wrong.status_code == 400 and wrong.json()["code"] == "input.invalid"
    assert "does not fit its schema" in wrong.json()["message"]
    right = server.http.post(
        f"/v1/executions/{execution_id}/tasks/ask/answer", json={"result": {"ok": True}}
    )
    assert right.status_code == 200, right.text
    done = server.wait_for(execution_id, lambda e: e["status"] == "succeeded")
    answer = done["output"]["answer"]
    # StackStorm's inquiry result carries the answer under "response".
    assert answer.get("response", answer) == {"ok": True}


def test_tasks_views_and_verdicts_of_an_execution(server: Server) -> None:
    definition = register(server, ASK)
    execution_id = server.http.post(
        "/v1/executions", json={"definition_id": definition["id"]}
    ).json()["id"]
    paused = server.wait_for(execution_id, lambda e: e["status"] == "paused")
    assert (paused["final"], paused["settled"]) == (False, True)  # waits for a person
    tasks = server.http.get(f"/v1/executions/{execution_id}/tasks").json()["tasks"]
    assert [(t["name"], t["status"]) for t in tasks] == [("ask", "pending")]
    unknown = server.http.get(f"/v1/executions/{execution_id}/views/sfn")
    assert unknown.status_code == 400 and "offer no history view 'sfn'" in unknown.text
    server.http.post(
        f"/v1/executions/{execution_id}/tasks/ask/answer", json={"result": {"ok": True}}
    )
    done = server.wait_for(execution_id, lambda e: e["status"] == "succeeded")
    assert (done["final"], done["settled"]) == (True, True)


def test_requests_in_the_language_s_terms(server: Server) -> None:
    definition = register(server, ONE_TASK)
    execution_id = server.http.post(
        "/v1/executions", json={"definition_id": definition["id"]}
    ).json()["id"]
    server.wait_for(execution_id, lambda e: e["status"] == "succeeded")
    refused = server.http.post(f"/v1/executions/{execution_id}/cancel").json()
    assert refused["execution"]["status"] == "succeeded" and refused["refused"]
    bogus = server.http.post(
        f"/v1/executions/{execution_id}/rerun", json={"options": {"bogus": True}}
    )
    assert bogus.status_code == 400 and "bogus" in bogus.json()["message"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code", "names"),
    [
        ("post", "/v1/definitions", "{not json", 422, "request.invalid", "JSON"),
        ("post", "/v1/definitions", {"source": "x", "colour": 1}, 422, "request.invalid", "colour"),
        ("post", "/v1/definitions", {"source": 7}, 422, "request.invalid", "source"),
        ("post", "/v1/definitions", {}, 422, "request.invalid", "source"),
        (
            "post",
            "/v1/definitions",
            {"source": "version: 1.0\ntasks:\n  a:\n    next: [{do: zz}]\n"},
            400,
            "definition.invalid",
            "zz",
        ),
        (
            "post",
            "/v1/definitions",
            {"source": "a: 1", "kind": "cobol"},
            400,
            "front_end.not_found",
            "cobol",
        ),
        ("post", "/v1/executions", {"definition_id": "nope"}, 404, "definition.not_found", "nope"),
        ("post", "/v1/executions", {"definition_id": ""}, 422, "request.invalid", "definition_id"),
        ("get", "/v1/executions/nope", None, 404, "execution.not_found", "nope"),
        ("get", "/v1/executions/nope/history", None, 404, "execution.not_found", "nope"),
        ("get", "/v1/executions?limit=0", None, 422, "request.invalid", "limit"),
        ("post", "/v1/executions/nope/cancel", None, 404, "execution.not_found", "nope"),
        (
            "post",
            "/v1/executions/nope/tasks/t/answer",
            {"result": 1},
            404,
            "execution.not_found",
            "nope",
        ),
        ("get", "/v1/definitions/nope", None, 404, "definition.not_found", "nope"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_problem(
    idle_server: Server, method: str, path: str, body: Any, status: int, code: str, names: str
) -> None:
    kwargs: dict[str, Any] = {}
    if isinstance(body, str):
        kwargs = {"content": body, "headers": {"content-type": "application/json"}}
    elif body is not None:
        kwargs = {"json": body}
    answer = idle_server.http.request(method.upper(), path, **kwargs)
    assert answer.status_code == status, answer.text
    error = answer.json()
    assert error["code"] == code and names in json.dumps(error)
    assert "Traceback" not in answer.text
    assert idle_server.http.get("/v1/executions").json()["executions"] == []


def test_a_body_over_the_limit_is_refused_before_it_is_read(idle_server: Server) -> None:
    huge = json.dumps({"source": "x" * (2 * 1024 * 1024)})
    answer = idle_server.http.post(
        "/v1/definitions", content=huge, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 413 and answer.json()["code"] == "request.too_large"


def test_the_openapi_document_describes_every_route(idle_server: Server) -> None:
    document = idle_server.http.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    paths = document["paths"]
    for path in (
        "/v1/definitions",
        "/v1/definitions/validate",
        "/v1/executions",
        "/v1/executions/{execution_id}",
        "/v1/executions/{execution_id}/history",
        "/v1/executions/{execution_id}/rerun",
        "/v1/executions/{execution_id}/tasks/{task}/answer",
    ):
        assert path in paths, path
    schema = document["components"]["schemas"]["DefinitionIn"]
    assert schema["additionalProperties"] is False
    validate = idle_server.http.post(
        "/v1/definitions/validate",
        json={"source": "version: 1.0\ntasks:\n  a:\n    next: [{do: zz}]\n"},
    ).json()
    assert validate["valid"] is False and validate["problems"][0]["line"] == 4


def test_a_token_guards_every_route_but_health(store_url: str, tmp_path: Path) -> None:
    guarded = start_server(store_url, tmp_path, token="s3cret-token")
    try:
        bare = httpx.get(f"{guarded.url}/v1/executions")
        assert bare.status_code == 401 and bare.json()["code"] == "api.unauthorized"
        assert "s3cret" not in bare.text
        wrong = httpx.get(
            f"{guarded.url}/v1/executions", headers={"authorization": "Bearer s3cret-tokem"}
        )
        assert wrong.status_code == 401
        assert httpx.get(f"{guarded.url}/health").status_code == 200
        assert guarded.http.get("/v1/executions").status_code == 200
    finally:
        guarded.stop()


def test_serving_other_machines_needs_a_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CADENZA_API_TOKEN"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cadenza",
            "server",
            "--bind",
            "0.0.0.0:0",
            "--store",
            f"sqlite:///{tmp_path}/store.db",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "give an API token" in done.stderr
    assert not (tmp_path / "store.db").exists()  # refused before the store was opened


def test_executions_are_listed_with_filters_a_page_at_a_time(server: Server) -> None:
    first = register(server, ONE_TASK)
    second = register(server, ONE_TASK.replace("hi", "ho"))
    started = [
        server.http.post("/v1/executions", json={"definition_id": d["id"]}).json()
        for d in (first, second, first, second, first)
    ]
    ids: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = server.http.get("/v1/executions", params=params).json()
        ids += [e["id"] for e in page["executions"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(ids) == sorted(e["id"] for e in started) and len(set(ids)) == 5
    created = [e["created_at"] for e in started]
    assert ids == [e["id"] for e in sorted(started, key=lambda e: (e["created_at"], e["id"]))][::-1]
    only = server.http.get("/v1/executions", params={"definition_id": second["id"]}).json()
    assert {e["definition_id"] for e in only["executions"]} == {second["id"]}
    assert len(only["executions"]) == 2
    window = server.http.get(
        "/v1/executions", params={"since": created[1], "until": created[3]}
    ).json()
    assert [e["id"] for e in window["executions"]] == [started[2]["id"], started[1]["id"]]
    assert server.http.get("/v1/executions", params={"kind": "states"}).json()["executions"] == []
    bad = server.http.get("/v1/executions", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 400 and "cursor" in bad.json()["message"]


def test_metrics_count_executions_and_tasks_and_time_decisions(server: Server) -> None:
    definition = register(server, ONE_TASK)
    execution_id = server.http.post(
        "/v1/executions", json={"definition_id": definition["id"]}
    ).json()["id"]
    server.wait_for(execution_id, lambda e: e["status"] == "succeeded")
    answer = server.http.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    assert 'cadenza_executions{kind="orquesta",status="succeeded"} 1.0' in text
    decided = re.search(r"^cadenza_decision_latency_seconds_count (\S+)$", text, re.M)
    assert decided is not None and float(decided.group(1)) >= 2  # started, then completed
    started = re.search(r"^cadenza_task_start_latency_seconds_count (\S+)$", text, re.M)
    assert started is not None and float(started.group(1)) >= 1


SECRET_ECHO = """\
version: 1.0
input:
  - user
  - password
tasks:
  login:
    action: core.echo
    input:
      message: <% ctx().user %> uses <% ctx().password %>
    next:
      - when: <% succeeded() %>
        publish:
          - said: <% result().stdout %>
output:
  - said: <% ctx().said %>
"""


def test_secret_input_is_used_by_the_workflow_and_masked_in_every_answer(
    server: Server,
) -> None:
    definition = register(server, SECRET_ECHO)
    execution_id = server.http.post(
        "/v1/executions",
        json={
            "definition_id": definition["id"],
            "input": {"user": "ada", "password": {"$secret": "hunter2"}},
        },
    ).json()["id"]
    done = server.wait_for(execution_id, lambda e: e["status"] == "succeeded")
    assert done["output"] == {"said": "ada uses ********"}  # it ran with the real value
    history = server.http.get(f"/v1/executions/{execution_id}/history").text
    assert "hunter2" not in history and "ada uses ********" in history
    listed = server.http.get("/v1/executions").text
    assert "hunter2" not in listed


def test_a_history_long_poll_answers_when_the_next_event_is_recorded(server: Server) -> None:
    definition = register(server, ASK)
    execution_id = server.http.post(
        "/v1/executions", json={"definition_id": definition["id"]}
    ).json()["id"]
    paused = server.wait_for(execution_id, lambda e: e["status"] == "paused")
    last = paused["last_seq"]
    quiet = server.http.get(
        f"/v1/executions/{execution_id}/history", params={"after_seq": last, "wait": 0.5}
    ).json()
    assert quiet["events"] == []  # nothing happened: the wait ran out
    got: list[dict[str, Any]] = []
    waited: list[float] = []

    def poll() -> None:
        began = time.monotonic()
        got.append(
            server.http.get(
                f"/v1/executions/{execution_id}/history", params={"after_seq": last, "wait": 25}
            ).json()
        )
        waited.append(time.monotonic() - began)

    poller = threading.Thread(target=poll)
    poller.start()
    server.http.post(
        f"/v1/executions/{execution_id}/tasks/ask/answer", json={"result": {"ok": True}}
    )
    poller.join(timeout=60)
    assert got and got[0]["events"] and got[0]["events"][0]["seq"] == last + 1
    assert waited[0] < 25  # answered by the event, not by the end of the wait
