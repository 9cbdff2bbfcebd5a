"""The ``cadenza`` command reads, runs and shows toml-steps workflows once the
plug-in is installed, on SQLite and on PostgreSQL, with no change to Cadenza.

Every command here is a real process whose ``PYTHONPATH`` holds the
"installed" plug-in (see ``conftest.py``).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from cadenza.store import open_store

from .support import CadenzaCommand, count_rows

FLOW = """\
description = "greet, then build"

[[steps]]
name = "hello"
action = "core.echo"
input = { message = "hello" }

[[steps]]
name = "build"
action = "core.local"

[steps.input]
cmd = "echo built"

[[steps]]
name = "done"
action = "core.noop"
"""

NO_ACTION = """\
[[steps]]
name = "hello"
action = "core.echo"

[[steps]]
name = "build"
input = { cmd = "true" }
"""

UNKNOWN_ACTION = """\
[[steps]]
name = "hello"

action = "core.nope"
"""

#: name -> (file name, text, extra arguments, exit code, text expected in the output)
VALIDATE_CASES: dict[str, tuple[str, str, tuple[str, ...], int, str]] = {
    "suffix": ("flow.steps.toml", FLOW, (), 0, "flow.steps.toml: valid"),
    "json": ("flow.steps.toml", FLOW, ("--json",), 0, '"valid": true'),
    "content": ("flow.toml", FLOW, (), 0, "flow.toml: valid"),
    "kind": ("flow.txt", FLOW, ("--kind", "toml-steps"), 0, "flow.txt: valid"),
    "broken-toml": (
        "broken.steps.toml",
        "[[steps]]\nname = 'a'\naction = \n",
        (),
        2,
        "error [definition.unloadable]: broken.steps.toml: the definition has 1 problem:\n"
        "  - (document) (line 3): not valid TOML: ",
    ),
    "no-action": (
        "flow.steps.toml",
        NO_ACTION,
        (),
        2,
        "error [definition.invalid]: flow.steps.toml: the definition has 1 problem:\n"
        "  - steps[1].action (line 5): a step needs an action "
        "(an activity name such as core.echo)",
    ),
    "no-action-by-content": (
        "flow.toml",
        NO_ACTION,
        (),
        2,
        "steps[1].action (line 5): a step needs an action",
    ),
    "unknown-action": (
        "flow.steps.toml",
        UNKNOWN_ACTION,
        (),
        2,
        "steps[0].action (line 4): ",
    ),
}


@pytest.mark.parametrize("case", sorted(VALIDATE_CASES))
def test_validate_reads_the_plug_in_language_and_stores_nothing(
    cadenza: CadenzaCommand, tmp_path: Path, store_url: str, case: str
) -> None:
    name, text, extra, code, expected = VALIDATE_CASES[case]
    (tmp_path / name).write_text(text)
    done = cadenza("validate", name, *extra, "--store", store_url)
    assert done.returncode == code, done.stdout + done.stderr
    assert expected in (done.stdout if code == 0 else done.stderr)
    if case == "unknown-action":
        assert "core.nope" in done.stderr
    assert count_rows(store_url, "definitions") == 0
    assert count_rows(store_url, "executions") == 0


def test_without_the_plug_in_cadenza_does_not_know_the_language(
    cadenza: CadenzaCommand, tmp_path: Path, store_url: str
) -> None:
    (tmp_path / "flow.steps.toml").write_text(FLOW)
    bare = {k: v for k, v in os.environ.items() if k != "CADENZA_STORE"}
    done = cadenza("validate", "flow.steps.toml", "--kind", "toml-steps", env=bare)
    assert done.returncode == 2
    assert "no front end reads definitions of kind 'toml-steps'" in done.stderr
    done = cadenza("run", "flow.steps.toml", "--store", store_url, env=bare)
    assert done.returncode == 2, done.stderr  # read as some other language, and refused
    assert count_rows(store_url, "executions") == 0


def test_run_status_and_history_of_a_plug_in_workflow(
    cadenza: CadenzaCommand, tmp_path: Path, store_url: str
) -> None:
    (tmp_path / "flow.steps.toml").write_text(FLOW)
    done = cadenza("run", "flow.steps.toml", "--json", "--store", store_url)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "succeeded"
    assert result["errors"] == []
    hello, build, finished = result["output"]
    assert (hello["stdout"], build["stdout"], finished["succeeded"]) == ("hello", "built", True)
    execution_id = result["execution_id"]

    done = cadenza("status", execution_id, "--store", store_url)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"execution {execution_id}  (flow.steps)  succeeded"
    assert [line.split() for line in lines[1:4]] == [
        ["succeeded", "hello"],
        ["succeeded", "build"],
        ["succeeded", "done"],
    ]
    done = cadenza("status", execution_id, "--json", "--store", store_url)
    assert [t["name"] for t in json.loads(done.stdout)["tasks"]] == ["hello", "build", "done"]

    done = cadenza("history", execution_id, "--store", store_url)
    assert done.returncode == 0, done.stderr
    kinds = [line.split()[4] for line in done.stdout.splitlines()]
    assert kinds[0] == "ExecutionStarted"
    assert kinds[-1] == "ExecutionCompleted"
    assert Counter(kinds)["TaskScheduled"] == Counter(kinds)["TaskCompleted"] == 3

    done = cadenza("history", execution_id, "--json", "--store", store_url)
    events = json.loads(done.stdout)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))

    done = cadenza("history", execution_id, "--view", "steps", "--store", store_url)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        {"name": "hello", "status": "succeeded"},
        {"name": "build", "status": "succeeded"},
        {"name": "done", "status": "succeeded"},
    ]
    done = cadenza("history", execution_id, "--view", "nope", "--store", store_url)
    assert done.returncode == 2
    assert "toml-steps executions offer no history view 'nope' (offered: steps)" in done.stderr, (
        done.stderr
    )


def test_the_input_must_be_an_object(
    cadenza: CadenzaCommand, tmp_path: Path, store_url: str
) -> None:
    (tmp_path / "flow.steps.toml").write_text(FLOW)
    done = cadenza("run", "flow.steps.toml", "--input", "[1, 2]", "--store", store_url)
    assert done.returncode == 2
    assert "--input must be a JSON object, not an array" in done.stderr
    assert count_rows(store_url, "executions") == 0


def test_a_failed_step_fails_the_run_and_a_rerun_starts_again_from_it(
    cadenza: CadenzaCommand, tmp_path: Path, store_url: str
) -> None:
    marks, fixed = tmp_path / "marks.txt", tmp_path / "fixed"
    (tmp_path / "flaky.steps.toml").write_text(
        f"""\
[[steps]]
name = "fetch"
action = "core.local"
input = {{ cmd = "echo fetch >> {marks}" }}

[[steps]]
name = "load"
action = "core.local"

[steps.input]
cmd = "echo load >> {marks}; test -f {fixed}"

[[steps]]
name = "report"
action = "core.echo"
input = {{ message = "loaded" }}
"""
    )
    done = cadenza("run", "flaky.steps.toml", "--json", "--store", store_url)
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    execution_id = result["execution_id"]
    assert result["status"] == "failed"
    [error] = result["errors"]
    assert (error["type"], error["step"], error["task_id"]) == ("command.failed", "load", "load.1")

    # The front end refuses what makes no sense for it, before anything is recorded.
    done = cadenza("rerun", execution_id, "--task", "fetch", "--store", store_url)
    assert done.returncode == 2
    assert "reruns from the step that failed; it cannot start from named steps" in done.stderr
    done = cadenza("rerun", execution_id, "--reset-items", "--store", store_url)
    assert done.returncode == 2
    assert "takes no options (got reset_items)" in done.stderr
    # The interpreter refuses requests its state does not allow.
    done = cadenza("pause", execution_id, "--store", store_url)
    assert done.returncode == 2
    assert "only a running execution can pause; it is failed" in done.stderr

    fixed.touch()
    done = cadenza("rerun", execution_id, "--json", "--quiet", "--store", store_url)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "succeeded"
    assert [r["stdout"] for r in result["output"]] == ["", "", "loaded"]
    assert marks.read_text().split() == ["fetch", "load", "load"]  # fetch did not run again

    done = cadenza("history", execution_id, "--view", "steps", "--store", store_url)
    assert json.loads(done.stdout) == [
        {"name": "fetch", "status": "succeeded"},
        {"name": "load", "status": "failed"},
        {"name": "load", "status": "succeeded"},
        {"name": "report", "status": "succeeded"},
    ]
    done = cadenza("rerun", execution_id, "--store", store_url)
    assert done.returncode == 2
    assert "only a failed or canceled execution can rerun; it is succeeded" in done.stderr

    store = open_store(store_url)
    try:
        history = store.read_history(execution_id)
    finally:
        store.close()
    assert [e.seq for e in history] == list(range(1, len(history) + 1))
    rejected = [e.event.payload()["request"] for e in history if e.event.type == "RequestRejected"]
    assert rejected == ["pause", "rerun"]


def test_a_worker_without_the_plug_in_leaves_its_executions_and_exits_when_idle(
    cadenza: CadenzaCommand, tmp_path: Path, store_url: str
) -> None:
    (tmp_path / "flow.steps.toml").write_text(FLOW)
    started = cadenza("run", "flow.steps.toml", "--detach", "--store", store_url)
    assert started.returncode == 0, started.stderr
    execution_id = started.stdout.strip()
    bare = {k: v for k, v in os.environ.items() if k != "CADENZA_STORE"}
    # Nothing it can decide is left: it exits at once instead of waiting (or
    # spinning) on an execution of a language it does not have.
    done = cadenza("worker", "--exit-when-idle", "--store", store_url, env=bare, timeout=60)
    assert done.returncode == 0, done.stderr
    store = open_store(store_url)
    try:
        assert store.load_execution(execution_id).status == "requested"
        assert store.next_wakeup(["orquesta", "states"]) is None
        assert store.next_wakeup() is not None  # it is waiting, for someone else
    finally:
        store.close()
    finished = cadenza("worker", "--exit-when-idle", "--store", store_url, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert "succeeded" in cadenza("status", execution_id, "--store", store_url).stdout
