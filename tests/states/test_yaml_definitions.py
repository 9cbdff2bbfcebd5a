"""A state machine written in YAML (as the AWS Toolkit's ``.asl.yaml`` files are)
is recognised as one and runs like its JSON form."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cadenza.cli.main import main
from cadenza.engine.front_ends import FrontEnds
from cadenza.interpreters.protocol import Recognition
from cadenza.interpreters.states.frontend import StatesFrontEnd

MACHINE = """\
Comment: a greeting, in YAML
StartAt: Greet
States:
  Greet:
    Type: Pass
    Parameters:
      greeting.$: States.Format('hello {}', $.name)
    Next: Done
  Done:
    Type: Succeed
"""


def test_yaml_with_start_at_and_states_reads_as_a_state_machine() -> None:
    assert StatesFrontEnd().recognize(MACHINE) == Recognition.YES
    assert FrontEnds.installed().kind_of(MACHINE) == "states"
    orquesta = "version: 1.0\ntasks:\n  t:\n    action: core.noop\n"
    assert StatesFrontEnd().recognize(orquesta) == Recognition.NO


def test_a_yaml_state_machine_runs_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("greet.yaml", "greet.asl.yaml"):
        flow = tmp_path / name
        flow.write_text(MACHINE)
        store = f"sqlite:///{tmp_path / 'c.db'}"
        argv = ["run", str(flow), "--input", '{"name": "ada"}', "--json", "--quiet"]
        assert main([*argv, "--store", store]) == 0
        shown = json.loads(capsys.readouterr().out)
        assert shown["status"] == "succeeded"
        assert shown["output"] == {"greeting": "hello ada"}


def test_problems_of_a_yaml_state_machine_are_named_by_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flow = tmp_path / "broken.asl.yaml"
    flow.write_text(MACHINE.replace("Next: Done", "Next: Nowhere"))
    assert main(["validate", str(flow), "--json"]) == 2
    report = json.loads(capsys.readouterr().out)
    assert any("Nowhere" in p["message"] for p in report["problems"])
    flow.write_text("StartAt: A\nStates: [unclosed\n")
    assert main(["validate", str(flow)]) == 2
    assert "neither JSON nor valid YAML" in capsys.readouterr().err
