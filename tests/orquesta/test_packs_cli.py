"""``--pack DIR`` on the command line, in-process on a scratch SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cadenza.cli.main import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "stackstorm"
PACK = EXAMPLE / "release"
RELEASE = PACK / "actions" / "workflows" / "release.yaml"

MISSING_VERSION = """\
version: 1.0
tasks:
  check:
    action: release.check_version
    input:
      versoin: "1.0.0"
"""


def test_validate_checks_calls_against_the_pack_metadata(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(MISSING_VERSION)
    assert main(["validate", "--json", str(flow)]) == 2  # no pack: unknown action
    assert "release.check_version" in capsys.readouterr().out
    assert main(["validate", "--json", "--pack", str(PACK), str(flow)]) == 2
    report = json.loads(capsys.readouterr().out)
    messages = {p["spec_path"]: p["message"] for p in report["problems"]}
    assert messages == {
        "tasks.check.input": 'Action "release.check_version" is missing required input "version".',
        "tasks.check.input.versoin": (
            'Action "release.check_version" has unexpected input "versoin".'
        ),
    }
    assert main(["validate", "--pack", str(PACK), str(RELEASE)]) == 0


def test_run_with_a_pack_pauses_for_approval_and_a_worker_finishes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path / 'c.db'}"
    common = ["--store", store, "--pack", str(PACK)]
    code = main(
        ["run", *common, "--quiet", "--json", str(RELEASE), "--input", '{"version": "2.0.0"}']
    )
    assert code == 3
    paused = json.loads(capsys.readouterr().out)
    assert paused["status"] == "paused"
    execution = paused["execution_id"]
    answer = ["respond", *common, "--no-wait", execution, "approve", "--result"]
    assert main([*answer, '{"approved": true}']) == 0
    assert main(["worker", *common, "--exit-when-idle"]) == 0
    capsys.readouterr()
    assert main(["status", "--store", store, "--json", execution]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["status"] == "succeeded"
    assert status["output"]["announced"].startswith("to #releases: demo-v2.0.0-linux.tar.gz")


def test_pack_options_are_refused_with_a_server(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--server", "http://127.0.0.1:9", "run", "--pack", str(PACK), str(RELEASE)])
    assert code == 2
    assert "--pack cannot be used with --server" in capsys.readouterr().err
