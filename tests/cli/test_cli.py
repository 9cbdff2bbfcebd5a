"""The ``cadenza`` command as a user runs it: real processes in a scratch directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def cadenza(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cadenza", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd)},
    )


def write(cwd: Path, name: str, text: str) -> str:
    (cwd / name).write_text(text)
    return name


BAD_DEFINITIONS = {
    "invalid-yaml": (
        "tasks:\n  t1:\n    action: core.noop\n   next: [\n",
        "line 4",
        "definition.unloadable",
    ),
    "unknown-task": (
        "version: 1.0\ntasks:\n  t1:\n    action: core.noop\n    next:\n      - do: t9\n",
        "tasks.t1.next[0].do (line 6)",
        "definition.invalid",
    ),
    "yaql-syntax": (
        "version: 1.0\ntasks:\n  t1:\n    action: core.echo message=<% ctx( %>\n",
        "tasks.t1.input (line 4)",
        "definition.invalid",
    ),
    "unknown-action": (
        "version: 1.0\ntasks:\n  t1:\n    action: core.nope\n",
        "tasks.t1.action (line 4)",
        "definition.invalid",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_DEFINITIONS))
def test_a_bad_definition_exits_2_naming_file_path_and_line_and_stores_nothing(
    tmp_path: Path, name: str
) -> None:
    text, where, code = BAD_DEFINITIONS[name]
    flow = write(tmp_path, f"{name}.yaml", text)
    for command in ("run", "validate"):
        done = cadenza(tmp_path, command, flow)
        assert done.returncode == 2, done.stderr
        assert f"[{code}]" in done.stderr
        assert flow in done.stderr and where in done.stderr, done.stderr
    assert not (tmp_path / "cadenza.db").exists()


def test_malformed_input_exits_2_and_stores_nothing(tmp_path: Path) -> None:
    flow = write(tmp_path, "ok.yaml", "version: 1.0\ntasks:\n  t1:\n    action: core.noop\n")
    for bad in ("{nope", "[1, 2]"):
        done = cadenza(tmp_path, "run", flow, "--input", bad)
        assert done.returncode == 2
        assert "[input.invalid]" in done.stderr and "--input" in done.stderr
    assert not (tmp_path / "cadenza.db").exists()


GREETING = """\
version: 1.0
input:
  - name
tasks:
  greet:
    action: core.local cmd="echo hello <% ctx().name %>"
    next:
      - when: <% succeeded() %>
        publish:
          - greeting: <% result().stdout %>
output:
  - greeting: <% ctx().greeting %>
"""


def test_run_json_then_ps_status_history(tmp_path: Path) -> None:
    flow = write(tmp_path, "greet.yaml", GREETING)
    done = cadenza(tmp_path, "run", flow, "--input", '{"name": "ada"}', "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert set(document) == {"execution_id", "status", "output", "errors"}
    assert document["status"] == "succeeded"
    assert document["output"] == {"greeting": "hello ada"}
    assert "greet" in done.stderr  # live progress

    eid = document["execution_id"]
    ps = cadenza(tmp_path, "ps")
    assert ps.returncode == 0 and eid in ps.stdout and "succeeded" in ps.stdout
    status = json.loads(cadenza(tmp_path, "status", eid, "--json").stdout)
    assert status["tasks"] == [{"name": "greet", "key": "0", "status": "succeeded"}]
    history = json.loads(cadenza(tmp_path, "history", eid, "--json").stdout)
    assert history[0]["type"] == "ExecutionStarted"
    assert history[-1]["type"] == "ExecutionCompleted"
    missing = cadenza(tmp_path, "status", "no-such-id")
    assert missing.returncode == 2 and "[execution.not_found]" in missing.stderr


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


def test_a_failed_run_exits_1_and_rerun_resumes_from_the_failed_task(tmp_path: Path) -> None:
    flow = write(tmp_path, "fragile.yaml", FRAGILE)
    done = cadenza(tmp_path, "run", flow, "--json")
    assert done.returncode == 1
    document = json.loads(done.stdout)
    assert document["status"] == "failed"
    assert document["errors"][0]["task_id"] == "check"
    (tmp_path / "ready").write_text("")
    again = cadenza(tmp_path, "rerun", document["execution_id"], "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["status"] == "succeeded"
    # prepare succeeded the first time and is not run again
    assert (tmp_path / "log.txt").read_text().splitlines() == ["prepared", "checked"]
    refused = cadenza(tmp_path, "pause", document["execution_id"])
    assert refused.returncode == 2 and "[operation.refused]" in refused.stderr


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


def test_a_task_waiting_for_a_person_pauses_the_run_until_respond(tmp_path: Path) -> None:
    flow = write(tmp_path, "approval.yaml", APPROVAL)
    done = cadenza(tmp_path, "run", flow, "--json")
    assert done.returncode == 3, done.stderr
    document = json.loads(done.stdout)
    assert document["status"] == "paused"
    wrong = cadenza(
        tmp_path, "respond", document["execution_id"], "approve", "--result", '{"ok": "yes"}'
    )
    assert wrong.returncode == 2 and "does not fit its schema" in wrong.stderr
    assert "ok: 'yes' is not of type 'boolean'" in wrong.stderr
    answered = cadenza(
        tmp_path,
        "respond",
        document["execution_id"],
        "approve",
        "--result",
        '{"ok": true}',
        "--json",
    )
    assert answered.returncode == 0, answered.stderr
    final = json.loads(answered.stdout)
    assert final["status"] == "succeeded" and final["output"] == {"approved": True}
    again = cadenza(tmp_path, "respond", document["execution_id"], "approve")
    assert again.returncode == 2 and "[operation.refused]" in again.stderr


def test_the_readme_example_runs_to_completion(tmp_path: Path) -> None:
    done = cadenza(
        tmp_path, "run", str(ROOT / "examples" / "orquesta" / "rollback-retry.yaml"), "--json"
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["status"] == "succeeded"
    assert document["output"]["rollbacks"] >= 1
    assert not Path(document["output"]["file"]).exists()
