"""``cadenza --server URL …``: the CLI as a client of a real ``cadenza server``
process, on SQLite and on PostgreSQL, run as a user runs it.

The commands print what the local ones print and exit with the same codes;
the server's error codes come through, and options that only mean something
on this machine are refused rather than ignored.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.test_http_api import Server, start_server

GREETING = """\
version: 1.0
input:
  - name
tasks:
  greet:
    action: core.echo
    input:
      message: hello <% ctx().name %>
    next:
      - when: <% succeeded() %>
        publish:
          - greeting: <% result().stdout %>
output:
  - greeting: <% ctx().greeting %>
"""

FRAGILE = """\
version: 1.0
tasks:
  prepare:
    action: core.local cmd="echo prepared >> log.txt"
    next:
      - when: <% succeeded() %>
        do: check
  check:
    action: core.local cmd="test -e ready && echo checked >> log.txt"
"""

APPROVAL = """\
version: 1.0
tasks:
  approve:
    action: core.ask
    input:
      schema:
        type: object
        properties:
          ok: {type: boolean}
    next:
      - when: <% succeeded() and result().response.ok %>
        publish:
          - approved: true
output:
  - approved: <% ctx().get(approved, false) %>
"""


def cadenza(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cadenza", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), **(env or {})},
    )


def write(cwd: Path, name: str, text: str) -> str:
    (cwd / name).write_text(text)
    return name


@pytest.fixture
def server(store_url: str, tmp_path: Path) -> Iterator[Server]:
    running = start_server(store_url, tmp_path)
    yield running
    running.stop()


@pytest.fixture
def here(tmp_path: Path) -> Path:
    """Where the client runs: apart from the server's directory (tmp_path), so
    that a store opened by mistake would show."""
    path = tmp_path / "client"
    path.mkdir()
    return path


def no_store_in(path: Path) -> bool:
    return not list(path.glob("*.db*"))


def test_run_to_success_then_detach_status_history_and_ps(server: Server, here: Path) -> None:
    flow = write(here, "greet.yaml", GREETING)
    done = cadenza(
        here, "--server", server.url, "run", flow, "--input", '{"name": "ada"}', "--json"
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert set(document) == {"execution_id", "status", "output", "errors"}
    assert document["status"] == "succeeded"
    assert document["output"] == {"greeting": "hello ada"}
    # The local run's progress lines, from the server's history.
    assert f"execution {document['execution_id']}  (greet)" in done.stderr
    assert "run       greet  (core.echo)" in done.stderr
    assert "succeeded greet" in done.stderr and "workflow  succeeded" in done.stderr
    assert no_store_in(here)
    assert server.http.get(f"/v1/executions/{document['execution_id']}").json()["status"] == (
        "succeeded"
    )

    detached = cadenza(
        here,
        "--server",
        server.url,
        "run",
        flow,
        "--input",
        '{"name": "bo"}',
        "--detach",
        "--tag",
        "team=ops",
    )
    assert detached.returncode == 0, detached.stderr
    eid = detached.stdout.strip()
    server.wait_for(eid, lambda e: e["status"] == "succeeded")

    status = cadenza(here, "--server", server.url, "status", eid, "--json")
    assert status.returncode == 0, status.stderr
    shown = json.loads(status.stdout)
    assert shown == {
        "execution_id": eid,
        "status": "succeeded",
        "output": {"greeting": "hello bo"},
        "errors": [],
        "tasks": shown["tasks"],
    }
    assert [(t["name"], t["status"]) for t in shown["tasks"]] == [("greet", "succeeded")]
    local = cadenza(here, "status", eid, "--json", "--store", server.store_url)
    assert json.loads(local.stdout) == shown  # the same document as the local command
    text = cadenza(here, "--server", server.url, "status", eid)
    assert text.returncode == 0
    assert text.stdout.splitlines()[0] == f"execution {eid}  (greet)  succeeded"
    assert 'output: {\n  "greeting": "hello bo"\n}' in text.stdout

    history = cadenza(here, "--server", server.url, "history", eid, "--json")
    assert history.returncode == 0, history.stderr
    events = json.loads(history.stdout)
    assert events[0]["type"] == "ExecutionStarted" and events[-1]["type"] == "ExecutionCompleted"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["input"] == {"name": "bo"}
    lines = cadenza(here, "--server", server.url, "history", eid).stdout.splitlines()
    assert len(lines) == len(events) and "ExecutionCompleted" in lines[-1]

    ps = cadenza(here, "--server", server.url, "ps")
    assert ps.returncode == 0
    assert ps.stdout.splitlines()[0].split() == ["EXECUTION", "NAME", "STATUS", "AGE"]
    assert eid in ps.stdout and document["execution_id"] in ps.stdout
    listed = json.loads(cadenza(here, "--server", server.url, "ps", "--json").stdout)
    assert [e["execution_id"] for e in listed] == [eid, document["execution_id"]]
    assert set(listed[0]) == {"execution_id", "status", "output", "errors", "name", "created_at"}
    one = json.loads(cadenza(here, "--server", server.url, "ps", "--limit", "1", "--json").stdout)
    assert [e["execution_id"] for e in one] == [eid]
    # The filters go to the server.
    for options, expected in (
        (["--status", "succeeded", "--since", "1h"], [eid, document["execution_id"]]),
        (["--status", "failed"], []),
        (["--kind", "states"], []),
        (["--needs-attention"], []),
        (["--tag", "team=ops"], [eid]),
        (["--tag", "team=dev"], []),
        (["--search", eid[:8].upper()], [eid]),
        (["--search", "GREE"], [eid, document["execution_id"]]),
    ):
        found = cadenza(here, "--server", server.url, "ps", "--json", *options)
        assert found.returncode == 0, found.stderr
        assert [e["execution_id"] for e in json.loads(found.stdout)] == expected


def test_a_failing_workflow_exits_1_and_reruns_from_the_failed_task(
    server: Server, here: Path, tmp_path: Path
) -> None:
    flow = write(here, "fragile.yaml", FRAGILE)
    done = cadenza(here, "--server", server.url, "run", flow)
    assert done.returncode == 1, done.stderr
    assert "failed    check  (exit 1)" in done.stderr
    eid = done.stderr.split()[1]
    assert f"execution {eid} failed:" in done.stderr
    assert "  - check: " in done.stderr
    assert done.stdout.strip() == "null"

    as_json = json.loads(cadenza(here, "--server", server.url, "status", eid, "--json").stdout)
    assert as_json["status"] == "failed" and as_json["errors"][0]["task_id"] == "check"

    # The server runs the tasks in its own directory.
    (tmp_path / "ready").write_text("")
    again = cadenza(here, "--server", server.url, "rerun", eid, "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["status"] == "succeeded"
    assert "succeeded check" in again.stderr and "prepare" not in again.stderr
    assert (tmp_path / "log.txt").read_text().splitlines() == ["prepared", "checked"]

    refused = cadenza(here, "--server", server.url, "pause", eid)
    assert refused.returncode == 2 and "error [operation.refused]: " in refused.stderr


def test_respond_answers_a_waiting_task(server: Server, here: Path) -> None:
    flow = write(here, "approval.yaml", APPROVAL)
    done = cadenza(here, "--server", server.url, "run", flow, "--json")
    assert done.returncode == 3, done.stderr
    document = json.loads(done.stdout)
    eid = document["execution_id"]
    assert document["status"] == "paused"
    assert f"waiting   approve  (answer with: cadenza respond {eid} approve)" in done.stderr

    wrong = cadenza(
        here, "--server", server.url, "respond", eid, "approve", "--result", '{"ok": "yes"}'
    )
    assert wrong.returncode == 2 and "does not fit its schema" in wrong.stderr
    assert wrong.stderr.startswith("error [")
    not_json = cadenza(here, "--server", server.url, "respond", eid, "approve", "--result", "{")
    assert not_json.returncode == 2 and "[input.invalid]" in not_json.stderr

    answered = cadenza(
        here,
        "--server",
        server.url,
        "respond",
        eid,
        "approve",
        "--result",
        '{"ok": true}',
        "--json",
    )
    assert answered.returncode == 0, answered.stderr
    final = json.loads(answered.stdout)
    assert final["status"] == "succeeded" and final["output"] == {"approved": True}
    assert "workflow  succeeded" in answered.stderr

    again = cadenza(here, "--server", server.url, "respond", eid, "approve")
    assert again.returncode == 2 and "[operation.refused]" in again.stderr


def test_cancel_pause_and_resume(server: Server, here: Path) -> None:
    flow = write(here, "approval.yaml", APPROVAL)
    started = cadenza(here, "--server", server.url, "run", flow, "--detach")
    assert started.returncode == 0, started.stderr
    eid = started.stdout.strip()
    server.wait_for(eid, lambda e: e["status"] == "paused")

    resumed = cadenza(here, "--server", server.url, "resume", eid, "--no-wait", "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["execution_id"] == eid

    canceled = cadenza(here, "--server", server.url, "cancel", eid, "--json")
    assert canceled.returncode == 0, canceled.stderr
    document = json.loads(canceled.stdout)
    assert document["execution_id"] == eid
    assert document["status"] in ("canceling", "canceled")
    server.wait_for(eid, lambda e: e["status"] == "canceled")
    text = cadenza(here, "--server", server.url, "cancel", eid)
    assert text.returncode == 2 and "[operation.refused]" in text.stderr


def test_ctrl_c_stops_following_and_the_server_carries_on(server: Server, here: Path) -> None:
    flow = write(
        here, "slow.yaml", 'version: 1.0\ntasks:\n  a:\n    action: core.local cmd="sleep 2"\n'
    )
    client = subprocess.Popen(
        [sys.executable, "-m", "cadenza", "--server", server.url, "run", flow],
        cwd=here,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(here)},
    )
    assert client.stderr is not None
    first = client.stderr.readline()
    assert first.startswith("execution "), first
    eid = first.split()[1]
    assert "run       a  (core.local)" in client.stderr.readline()
    client.send_signal(signal.SIGINT)
    _, rest = client.communicate(timeout=60)
    assert client.returncode == 130, rest
    assert f"stopped following; execution {eid} is running and continues on {server.url}" in rest
    server.wait_for(eid, lambda e: e["status"] == "succeeded")


def test_bad_input_exits_2_with_the_server_s_code(server: Server, here: Path) -> None:
    bad = write(
        here,
        "bad.yaml",
        "version: 1.0\ntasks:\n  t1:\n    action: core.noop\n    next:\n      - do: t9\n",
    )
    done = cadenza(here, "--server", server.url, "run", bad)
    assert done.returncode == 2
    assert done.stderr.startswith("error [definition.invalid]: ")
    assert "bad.yaml" in done.stderr and "line 6" in done.stderr

    good = write(here, "greet.yaml", GREETING)
    not_json = cadenza(here, "--server", server.url, "run", good, "--input", "{nope")
    assert not_json.returncode == 2 and "[input.invalid]" in not_json.stderr
    wrong_kind = cadenza(here, "--server", server.url, "run", good, "--kind", "nope")
    assert wrong_kind.returncode == 2 and "[front_end.not_found]" in wrong_kind.stderr

    for command in ("status", "history", "cancel", "rerun"):
        missing = cadenza(here, "--server", server.url, command, "no-such-id")
        assert missing.returncode == 2, (command, missing.stderr)
        assert "error [execution.not_found]: " in missing.stderr
    assert server.http.get("/v1/executions").json()["executions"] == []


def test_a_token_from_the_environment_or_a_file(store_url: str, tmp_path: Path, here: Path) -> None:
    running = start_server(store_url, tmp_path, token="s3cret")
    try:
        flow = write(here, "greet.yaml", GREETING)
        env = {"CADENZA_SERVER": running.url, "CADENZA_API_TOKEN": "s3cret"}
        done = cadenza(here, "run", flow, "--input", '{"name": "cy"}', "--json", env=env)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["output"] == {"greeting": "hello cy"}

        (here / "token").write_text("s3cret\n")
        listed = cadenza(here, "--server", running.url, "--token-file", "token", "ps")
        assert listed.returncode == 0 and "greet" in listed.stdout

        denied = cadenza(here, "--server", running.url, "ps")
        assert denied.returncode == 2 and "error [api.unauthorized]" in denied.stderr
        assert no_store_in(here)
    finally:
        running.stop()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_an_unreachable_server_exits_1(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    done = cadenza(tmp_path, "--server", url, "ps")
    assert done.returncode == 1
    assert done.stderr.startswith(f"error [api.unreachable]: cannot reach {url}: ")
    assert time.monotonic() - started < 60
    flow = write(tmp_path, "greet.yaml", GREETING)
    run = cadenza(tmp_path, "run", flow, env={"CADENZA_SERVER": url})
    assert run.returncode == 1 and "[api.unreachable]" in run.stderr
    assert not (tmp_path / "cadenza.db").exists()


REFUSED: list[tuple[list[str], str]] = [
    (["run", "greet.yaml", "--store", "sqlite:///x.db"], "--store"),
    (["ps", "--store", "sqlite:///x.db"], "--store"),
    (["run", "greet.yaml", "--lease", "5"], "--lease"),
    (["run", "greet.yaml", "--activities", "m:n"], "--activities"),
    (["rerun", "e1", "--resources", "r.yaml"], "--resources"),
]


@pytest.mark.parametrize(("args", "option"), REFUSED, ids=[o for _, o in REFUSED])
def test_options_of_this_machine_are_refused_with_server(
    tmp_path: Path, args: list[str], option: str
) -> None:
    write(tmp_path, "greet.yaml", GREETING)
    url = f"http://127.0.0.1:{_closed_port()}"  # refused before anything is asked
    for prefix, env in ((["--server", url], {}), ([], {"CADENZA_SERVER": url})):
        done = cadenza(tmp_path, *prefix, *args, env=env)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("error [input.invalid]: ")
        assert f"{option} cannot be used with" in done.stderr
        assert "api.unreachable" not in done.stderr
    assert not (tmp_path / "x.db").exists()


def test_server_is_refused_where_it_means_nothing(tmp_path: Path) -> None:
    for args in (["worker", "--exit-when-idle"], ["db", "version"]):
        done = cadenza(tmp_path, "--server", "http://127.0.0.1:1", *args)
        assert done.returncode == 2 and "drop --server" in done.stderr
    not_a_url = cadenza(tmp_path, "--server", "localhost:8080", "ps")
    assert not_a_url.returncode == 2 and "http:// or https://" in not_a_url.stderr
    # CADENZA_SERVER is for the client commands; a worker still opens its store.
    local = cadenza(tmp_path, "db", "version", env={"CADENZA_SERVER": "http://127.0.0.1:1"})
    assert local.returncode == 0, local.stderr
