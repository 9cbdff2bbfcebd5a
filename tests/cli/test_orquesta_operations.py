"""The ``cadenza`` command on Orquesta operations: respond, cancel, failures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def cadenza(cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cadenza", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd)},
    )


def write(cwd: Path, name: str, text: str) -> str:
    (cwd / name).write_text(text)
    return name


TWO_ASKS = """\
version: 1.0
tasks:
  ask1:
    action: core.ask
  ask2:
    action: core.ask
"""


def test_answering_one_of_two_parallel_inquiries_pauses_until_the_other(tmp_path: Path) -> None:
    flow = write(tmp_path, "two.yaml", TWO_ASKS)
    started = cadenza(tmp_path, "run", "--quiet", "--json", flow)
    assert started.returncode == 3, started.stderr
    execution = json.loads(started.stdout)["execution_id"]
    first = cadenza(
        tmp_path, "respond", "--json", execution, "ask1", "--result", '{"continue": true}'
    )
    assert first.returncode == 3, first.stderr
    assert json.loads(first.stdout)["status"] == "paused"
    second = cadenza(
        tmp_path, "respond", "--json", execution, "ask2", "--result", '{"continue": true}'
    )
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["status"] == "succeeded"


def test_a_failed_command_shows_its_own_error_in_the_summary_and_json(tmp_path: Path) -> None:
    flow = write(
        tmp_path,
        "fails.yaml",
        'version: 1.0\ntasks:\n  t1:\n    action: core.local cmd="echo no such host >&2; exit 3"\n',
    )
    done = cadenza(tmp_path, "run", "--quiet", flow)
    assert done.returncode == 1
    assert "no such host" in done.stderr, done.stderr
    as_json = cadenza(tmp_path, "run", "--quiet", "--json", flow)
    [error] = json.loads(as_json.stdout)["errors"]
    assert error["task_id"] == "t1" and error["type"] == "error"
    assert "exited with code 3" in error["message"] and "no such host" in error["message"]
    assert error["result"]["return_code"] == 3


def test_a_timed_out_command_fails_with_an_error(tmp_path: Path) -> None:
    flow = write(
        tmp_path,
        "slow.yaml",
        'version: 1.0\ntasks:\n  t1:\n    action: core.local cmd="sleep 5" timeout=1\n',
    )
    done = cadenza(tmp_path, "run", "--quiet", "--json", flow)
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    assert document["status"] == "failed"
    [error] = document["errors"]
    assert error["task_id"] == "t1" and "did not finish within 1 seconds" in error["message"]


def test_status_of_a_succeeded_run_lists_no_handled_failure(tmp_path: Path) -> None:
    flow = tmp_path / "handled.yaml"
    flow.write_text(
        "version: 1.0\n"
        "tasks:\n"
        "  try:\n"
        "    action: core.local cmd='exit 3'\n"
        "    next:\n"
        "      - when: <% failed() %>\n"
        "        do: recover\n"
        "  recover:\n"
        "    action: core.noop\n"
    )

    def cadenza(*args: str) -> subprocess.CompletedProcess[str]:
        return _cadenza(tmp_path, *args)

    done = cadenza("run", str(flow), "--json", "--quiet")
    assert done.returncode == 0, done.stderr
    execution_id = json.loads(done.stdout)["execution_id"]
    shown = cadenza("status", execution_id)
    assert shown.returncode == 0 and "succeeded" in shown.stdout.splitlines()[0]
    assert "errors:" not in shown.stdout


def test_secret_input_is_masked_in_the_output_history_and_status(tmp_path: Path) -> None:
    flow = tmp_path / "login.yaml"
    flow.write_text(
        "version: 1.0\n"
        "input:\n  - password\n"
        "tasks:\n"
        "  login:\n"
        "    action: core.echo\n"
        "    input:\n      message: key=<% ctx().password %>\n"
        "    next:\n      - when: <% succeeded() %>\n"
        "        publish:\n          - said: <% result().stdout %>\n"
        "output:\n  - said: <% ctx().said %>\n"
    )

    def cadenza(*args: str) -> subprocess.CompletedProcess[str]:
        return _cadenza(tmp_path, *args)

    run = cadenza("run", str(flow), "--input", '{"password": {"$secret": "s3cr3t!"}}', "--json")
    assert run.returncode == 0, run.stderr
    document = json.loads(run.stdout)
    assert document["output"] == {"said": "key=********"}
    assert "s3cr3t!" not in run.stdout + run.stderr
    for args in (
        ("history", document["execution_id"]),
        ("history", document["execution_id"], "--json"),
        ("status", document["execution_id"], "--json"),
    ):
        shown = cadenza(*args)
        assert shown.returncode == 0, shown.stderr
        assert "s3cr3t!" not in shown.stdout, args


def _cadenza(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``cadenza ARGS`` on this test's own SQLite store, in ``tmp_path``."""
    return subprocess.run(
        [sys.executable, "-m", "cadenza", *args, "--store", f"sqlite:///{tmp_path / 'c.db'}"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
