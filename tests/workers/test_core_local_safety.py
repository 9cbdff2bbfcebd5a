"""core.local without surprises: an argument list runs without a shell, and a
command sees a small environment, not the worker's secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from cadenza.workers import ActivityContext, ActivityRegistry, run_activity


def test_an_argument_list_is_not_read_as_shell_syntax(
    registry: ActivityRegistry, context: ActivityContext, tmp_path: Path
) -> None:
    hostile = f"x; touch {tmp_path / 'pwned'} $(touch {tmp_path / 'pwned2'})"
    outcome = run_activity(registry, "core.local", {"cmd": ["echo", hostile]}, context)
    assert outcome.result["stdout"] == hostile
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()


def test_a_shell_string_still_runs_through_the_shell(
    registry: ActivityRegistry, context: ActivityContext
) -> None:
    outcome = run_activity(registry, "core.local", {"cmd": "echo $((2 + 3))"}, context)
    assert outcome.result["stdout"] == "5"


def test_the_workers_secrets_do_not_reach_a_command(
    registry: ActivityRegistry, context: ActivityContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CADENZA_STORE", "postgresql://app:hunter2@db/prod")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    outcome = run_activity(
        registry, "core.local", {"cmd": ["env"], "env": {"GREETING": "hi"}}, context
    )
    seen = dict(line.split("=", 1) for line in outcome.result["stdout"].splitlines())
    assert "CADENZA_STORE" not in seen
    assert seen["GREETING"] == "hi"
    assert seen["PATH"] == "/usr/bin:/bin"


def test_a_worker_may_pass_named_variables_on(
    registry: ActivityRegistry, context: ActivityContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGION", "eu-west-1")
    monkeypatch.setenv("CADENZA_PASS_ENV", "REGION, OTHER")
    outcome = run_activity(registry, "core.local", {"cmd": ["printenv", "REGION"]}, context)
    assert outcome.result["stdout"] == "eu-west-1"


def test_a_bad_argument_list_is_refused_for_good(
    registry: ActivityRegistry, context: ActivityContext
) -> None:
    outcome = run_activity(registry, "core.local", {"cmd": ["echo", 3]}, context)
    assert outcome.status == "failed"
    assert "argument" in str(outcome.error)
