"""``cadenza validate --pack DIR`` checks the pack workflows a definition calls.

A task calling a pack's ``runner_type: orquesta`` action runs that action's workflow
file; an unknown action inside it is reported by ``validate``, with the file and the
path in it, next to the definition's own problems, and through nested calls.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cadenza.cli.main import main

OUTER_ACTION = """\
---
name: outer
runner_type: orquesta
entry_point: workflows/outer.yaml
"""

INNER_ACTION = """\
---
name: inner
runner_type: orquesta
entry_point: workflows/inner.yaml
"""

OUTER = """\
version: 1.0
tasks:
  greet:
    action: core.echo message="hi"
    next:
      - do: deeper
  deeper:
    action: ops.inner
"""

INNER = """\
version: 1.0
tasks:
  deploy:
    action: ops.no_such_thing
  notify:
    action: core.echo message="done"
"""

FLOW = """\
version: 1.0
tasks:
  run_outer:
    action: ops.outer
  also:
    action: {also}
"""


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    root = tmp_path / "ops"
    (root / "actions" / "workflows").mkdir(parents=True)
    (root / "pack.yaml").write_text("ref: ops\n")
    (root / "actions" / "outer.yaml").write_text(OUTER_ACTION)
    (root / "actions" / "inner.yaml").write_text(INNER_ACTION)
    (root / "actions" / "workflows" / "outer.yaml").write_text(OUTER)
    (root / "actions" / "workflows" / "inner.yaml").write_text(INNER)
    return root


def _validate(
    flow: Path, pack: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, Any]]:
    code = main(["validate", "--json", "--pack", str(pack), str(flow)])
    return code, json.loads(capsys.readouterr().out)


def test_an_unknown_action_in_a_called_pack_workflow_is_reported_with_its_file(
    pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW.format(also="core.noop"))
    code, report = _validate(flow, pack, capsys)
    assert code == 2
    inner = pack / "actions" / "workflows" / "inner.yaml"
    [problem] = report["problems"]
    assert problem["file"] == str(inner)
    assert problem["spec_path"] == "tasks.deploy.action"
    assert problem["line"] == 4
    assert problem["category"] == "actions"
    assert "ops.no_such_thing" in problem["message"]
    # Where it is called from: the outer workflow's task, reached from the definition.
    assert "'ops.inner'" in problem["message"]
    assert "ops.outer: tasks.deeper.action" in problem["message"]

    # The text report names the file too.
    assert main(["validate", "--pack", str(pack), str(flow)]) == 2
    err = capsys.readouterr().err
    assert f"{inner}: tasks.deploy.action (line 4)" in err


def test_the_definition_s_own_problems_come_with_those_of_called_workflows(
    pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW.format(also="core.nope"))
    code, report = _validate(flow, pack, capsys)
    assert code == 2
    found = {(p.get("file"), p["spec_path"]) for p in report["problems"]}
    inner = str(pack / "actions" / "workflows" / "inner.yaml")
    assert found == {(None, "tasks.also.action"), (inner, "tasks.deploy.action")}


def test_a_valid_chain_of_pack_workflows_is_valid(
    pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (pack / "actions" / "workflows" / "inner.yaml").write_text(
        INNER.replace("ops.no_such_thing", "core.noop")
    )
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW.format(also="core.noop"))
    code, report = _validate(flow, pack, capsys)
    assert code == 0
    assert report["valid"] is True


def test_a_workflow_not_called_is_not_checked(
    pack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only what the definition reaches: a pack may hold workflows for other runs."""
    flow = tmp_path / "flow.yaml"
    flow.write_text("version: 1.0\ntasks:\n  one:\n    action: core.noop\n")
    code, report = _validate(flow, pack, capsys)
    assert code == 0, report
