"""``cadenza ps`` filters, in-process on a scratch SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cadenza.cli.main import main

ASKS = """\
version: 1.0
tasks:
  approve:
    action: core.ask
    input:
      schema:
        type: object
        properties:
          ok: {type: boolean, required: true}
"""

ECHOES = """\
version: 1.0
tasks:
  say:
    action: core.echo message="hi"
"""


def _ps(capsys: pytest.CaptureFixture[str], store: str, *options: str) -> list[dict[str, str]]:
    capsys.readouterr()
    assert main(["ps", "--store", store, "--json", *options]) == 0
    rows: list[dict[str, str]] = json.loads(capsys.readouterr().out)
    return rows


def test_ps_filters_by_status_kind_age_and_attention(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path / 'cadenza.db'}"
    (tmp_path / "asks.yaml").write_text(ASKS)
    (tmp_path / "echoes.yaml").write_text(ECHOES)
    assert main(["run", "--store", store, "--quiet", str(tmp_path / "asks.yaml")]) == 3
    assert main(["run", "--store", store, "--quiet", str(tmp_path / "echoes.yaml")]) == 0

    everything = _ps(capsys, store)
    assert sorted(r["status"] for r in everything) == ["paused", "succeeded"]
    waiting = _ps(capsys, store, "--needs-attention")
    assert [r["name"] for r in waiting] == ["asks"]
    assert [r["name"] for r in _ps(capsys, store, "--status", "succeeded")] == ["echoes"]
    assert len(_ps(capsys, store, "--status", "succeeded", "--status", "paused")) == 2
    assert _ps(capsys, store, "--kind", "states") == []
    assert len(_ps(capsys, store, "--kind", "orquesta", "--since", "1h")) == 2


def test_ps_refuses_a_duration_it_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path / 'cadenza.db'}"
    assert main(["ps", "--store", store, "--since", "yesterday"]) == 2
    assert "--since takes a duration such as 90s" in capsys.readouterr().err


def test_version_and_log_level(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("cadenza ")
    assert main(["--log-level", "loud", "ps"]) == 2
    assert "the log level must be one of debug, info" in capsys.readouterr().err


def test_purge_deletes_finished_executions_older_than_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path / 'cadenza.db'}"
    (tmp_path / "asks.yaml").write_text(ASKS)
    (tmp_path / "echoes.yaml").write_text(ECHOES)
    assert main(["run", "--store", store, "--quiet", str(tmp_path / "asks.yaml")]) == 3
    assert main(["run", "--store", store, "--quiet", str(tmp_path / "echoes.yaml")]) == 0
    capsys.readouterr()

    assert main(["purge", "--store", store, "--older-than", "1h"]) == 0
    assert "deleted 0 finished" in capsys.readouterr().out
    assert main(["purge", "--store", store, "--older-than", "0s", "--dry-run"]) == 0
    assert "would delete 1 finished" in capsys.readouterr().out
    assert len(_ps(capsys, store)) == 2
    assert main(["purge", "--store", store, "--older-than", "0s"]) == 0
    assert "deleted 1 finished" in capsys.readouterr().out
    # The paused one is not finished: it stays.
    assert [r["status"] for r in _ps(capsys, store)] == ["paused"]
    assert main(["purge", "--store", store, "--older-than", "0s", "--status", "paused"]) == 2
    assert "not a final status" in capsys.readouterr().err


def test_inquiries_lists_the_questions_waiting_for_a_person(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path / 'cadenza.db'}"
    (tmp_path / "asks.yaml").write_text(ASKS)
    (tmp_path / "echoes.yaml").write_text(ECHOES)
    assert main(["run", "--store", store, "--quiet", str(tmp_path / "asks.yaml")]) == 3
    assert main(["run", "--store", store, "--quiet", str(tmp_path / "echoes.yaml")]) == 0
    capsys.readouterr()

    assert main(["inquiries", "--store", store, "--json"]) == 0
    (waiting,) = json.loads(capsys.readouterr().out)
    assert (waiting["execution_name"], waiting["task"]) == ("asks", "approve")
    assert waiting["question"]["schema"]["properties"]["ok"]["type"] == "boolean"

    assert (
        main(
            [
                "respond",
                "--store",
                store,
                "--quiet",
                waiting["execution_id"],
                "approve",
                "--result",
                '{"ok": true}',
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["inquiries", "--store", store]) == 0
    assert "no task is waiting" in capsys.readouterr().out
