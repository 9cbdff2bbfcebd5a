"""core.noop, core.echo and core.ask."""

from __future__ import annotations

from cadenza.workers import ActivityContext, ActivityOutcome, ActivityRegistry, run_activity
from cadenza.workers.builtins.ask import DEFAULT_SCHEMA


def test_noop_has_the_stackstorm_result(
    registry: ActivityRegistry, context: ActivityContext
) -> None:
    assert run_activity(registry, "core.noop", {}, context) == ActivityOutcome.succeeded(
        {"failed": False, "succeeded": True, "return_code": 0}
    )


def test_echo_has_the_local_shell_shape(
    registry: ActivityRegistry, context: ActivityContext
) -> None:
    outcome = run_activity(registry, "core.echo", {"message": "$HOME `x`"}, context)
    assert outcome == ActivityOutcome.succeeded(
        {"stdout": "$HOME `x`", "stderr": "", "return_code": 0, "succeeded": True, "failed": False}
    )
    number = run_activity(registry, "core.echo", {"message": 3}, context)
    assert number.result["stdout"] == "3"
    missing = run_activity(registry, "core.echo", {}, context)
    assert missing.error is not None and missing.error.type == "input.invalid"


def test_ask_is_pending_with_the_question(
    registry: ActivityRegistry, context: ActivityContext
) -> None:
    schema = {"type": "object", "properties": {"approved": {"type": "boolean"}}}
    outcome = run_activity(
        registry,
        "core.ask",
        {"schema": schema, "route": "ops", "users": ["ann"], "message": "Ship it?"},
        context,
    )
    assert outcome == ActivityOutcome.pending(
        {
            "schema": schema,
            "route": "ops",
            "roles": [],
            "users": ["ann"],
            "ttl": 1440,
            "message": "Ship it?",
        }
    )


def test_ask_defaults(registry: ActivityRegistry, context: ActivityContext) -> None:
    outcome = run_activity(registry, "core.ask", None, context)
    assert outcome.status == "pending"
    assert outcome.result["schema"] == DEFAULT_SCHEMA
    assert run_activity(registry, "core.ask", {"schema": "yes?"}, context).status == "failed"
