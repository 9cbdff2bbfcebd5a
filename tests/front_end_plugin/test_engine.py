"""The plug-in inside an ``Engine`` (found through its entry point), on SQLite and
PostgreSQL: code references, operator requests, answers, snapshots, and stores
shared with engines that do not have the plug-in.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cadenza.engine.engine import Engine
from cadenza.model.definitions import CodeReference
from cadenza.model.errors import KindUnclear
from cadenza.model.events import ExecutionCompleted, MarkerRecorded
from cadenza.testing.replay import check_replay, replay_state

from .support import snapshot_seq

KIND = "toml-steps"

#: What core.noop returns (StackStorm's shape).
NOOP_RESULT = {"failed": False, "succeeded": True, "return_code": 0}


def steps_text(*steps: tuple[str, str, str]) -> str:
    """TOML for ``(name, action, inline input table)`` steps."""
    return "".join(
        f'[[steps]]\nname = "{name}"\naction = "{action}"\ninput = {{ {body} }}\n\n'
        for name, action, body in steps
    )


def view(engine: Engine, execution_id: str) -> list[tuple[str, str]]:
    return [(s["name"], s["status"]) for s in engine.history_view(execution_id, "steps")]


def assert_replays(engine: Engine, execution_id: str) -> None:
    """The recorded history is exactly what the interpreter decides again, in order."""
    record = engine.get(execution_id)
    interpreter = engine.compile(
        engine.store.load_definition(record.definition_id).source, kind=KIND
    )
    history = engine.history(execution_id)
    assert [e.seq for e in history] == list(range(1, len(history) + 1))
    assert check_replay(interpreter, history) == []


@pytest.fixture
def engine(installed: Path, store_url: str) -> Iterator[Engine]:
    """An engine with the front ends installed in this process: Cadenza's and the plug-in."""
    opened = Engine(store_url)
    assert KIND in opened.front_ends
    yield opened
    opened.close()


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A user's module (importable) that holds a workflow as Python data."""
    name = f"nightly_flows_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(
        "NIGHTLY = [\n"
        "    {'name': 'greet', 'action': 'core.echo', 'input': {'message': 'hi'}},\n"
        "    {'name': 'rest', 'action': 'core.noop'},\n"
        "]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_a_code_reference_registers_and_runs_and_its_record_keeps_target_and_version(
    engine: Engine, user_module: str, store_url: str
) -> None:
    reference = CodeReference(f"{user_module}:NIGHTLY", "2024.06")
    with pytest.raises(KindUnclear):
        engine.register(reference)  # no text to recognise: the kind is named
    definition = engine.register(reference, kind=KIND)
    assert (definition.kind, definition.name) == (KIND, "NIGHTLY")
    assert (definition.source, definition.version) == (reference.target, "2024.06")
    assert engine.store.load_definition(definition.id) == definition
    assert engine.register(reference, kind=KIND).id == definition.id
    assert engine.register(CodeReference(reference.target, "2024.07"), kind=KIND).id != (
        definition.id
    )

    execution_id = engine.start(definition, {"night": 1})
    engine.run_until_idle()
    record = engine.get(execution_id)
    assert record.status == "succeeded"
    assert record.kind == KIND
    assert record.output[0]["stdout"] == "hi"
    assert record.output[1] == NOOP_RESULT

    # A fresh engine (as another process) compiles the stored reference again.
    other = Engine(store_url)
    try:
        described = other.describe(execution_id)
        assert (described.status, [t.name for t in described.tasks]) == (
            "succeeded",
            ["greet", "rest"],
        )
        stored = other.store.load_definition(definition.id)
        interpreter = other.compile(CodeReference(stored.source, stored.version or ""), kind=KIND)
        assert check_replay(interpreter, other.history(execution_id)) == []
    finally:
        other.close()


def test_pause_takes_effect_after_the_running_step_and_resume_goes_on(engine: Engine) -> None:
    definition = engine.register(
        steps_text(
            ("a", "core.echo", 'message = "a"'),
            ("b", "core.echo", 'message = "b"'),
        ),
        kind=KIND,
    )
    execution_id = engine.start(definition)
    engine.decide()
    assert engine.get(execution_id).status == "running"
    engine.pause(execution_id)
    assert engine.get(execution_id).status == "pausing"
    engine.run_until_idle()
    assert engine.get(execution_id).status == "paused"
    assert view(engine, execution_id) == [("a", "succeeded")]
    assert engine.is_settled(engine.get(execution_id))

    engine.pause(execution_id)
    assert engine.last_rejection(execution_id) == {
        "kind": "operation.refused",
        "message": "only a running execution can pause; it is paused",
    }
    engine.resume(execution_id)
    assert engine.last_rejection(execution_id) is None
    engine.run_until_idle()
    record = engine.get(execution_id)
    assert record.status == "succeeded"
    assert [r["stdout"] for r in record.output] == ["a", "b"]
    assert_replays(engine, execution_id)


def test_cancel_withdraws_the_waiting_step_and_a_rerun_starts_it_again(
    engine: Engine, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    definition = engine.register(
        steps_text(("touch", "core.local", f'cmd = "touch {marker}"')), kind=KIND
    )
    execution_id = engine.start(definition)
    engine.decide()
    engine.cancel(execution_id)
    engine.run_until_idle()
    assert engine.get(execution_id).status == "canceled"
    assert not marker.exists(), "a withdrawn step must not run"
    assert view(engine, execution_id) == [("touch", "canceled")]

    engine.cancel(execution_id)
    assert "the execution is over" in engine.last_rejection(execution_id)["message"]
    engine.rerun(execution_id)
    engine.run_until_idle()
    assert engine.get(execution_id).status == "succeeded"
    assert marker.exists()
    assert view(engine, execution_id) == [("touch", "canceled"), ("touch", "succeeded")]
    assert_replays(engine, execution_id)


def test_a_step_waiting_for_an_answer_pauses_the_run_until_it_is_answered(
    engine: Engine,
) -> None:
    definition = engine.register(
        steps_text(
            ("approve", "core.ask", 'message = "ship it?"'),
            ("ship", "core.echo", 'message = "shipped"'),
        ),
        kind=KIND,
    )
    answered, refused = engine.start(definition), engine.start(definition)
    engine.run_until_idle()
    for execution_id in (answered, refused):
        assert engine.get(execution_id).status == "paused"
        assert view(engine, execution_id) == [("approve", "waiting")]

    engine.resume(answered)
    assert "waits for an answer" in engine.last_rejection(answered)["message"]
    engine.respond(answered, "approve", {"continue": True})
    engine.respond(refused, "approve", {"continue": False}, failed=True)
    engine.run_until_idle()

    record = engine.get(answered)
    assert record.status == "succeeded"
    assert record.output[0] == {"continue": True}
    assert record.output[1]["stdout"] == "shipped"
    record = engine.get(refused)
    assert record.status == "failed"
    assert record.errors[0]["type"] == "answer.failed"
    for execution_id in (answered, refused):
        assert_replays(engine, execution_id)


def test_snapshots_are_saved_and_a_fresh_engine_goes_on_from_one(
    engine: Engine, store_url: str
) -> None:
    count = 30
    definition = engine.register(
        steps_text(*[(f"s{i}", "core.noop", "") for i in range(count)]), kind=KIND
    )
    execution_id = engine.start(definition)
    while len(engine.history_view(execution_id, "steps")) < count // 2:
        engine.tick()
    saved_at = snapshot_seq(store_url, execution_id)
    assert saved_at > 0, "the plug-in enables snapshots: one is saved mid-run"

    # Another engine holds no state in memory: it loads the snapshot and the
    # history recorded after it, and carries on.
    other = Engine(store_url)
    try:
        other.run_until_idle()
        record = other.get(execution_id)
        assert record.status == "succeeded"
        assert record.output == [NOOP_RESULT] * count
        assert view(other, execution_id) == [(f"s{i}", "succeeded") for i in range(count)]
        assert_replays(other, execution_id)
        interpreter = other.compile(definition.source, kind=KIND)
        rebuilt = replay_state(interpreter, other.history(execution_id))
        assert interpreter.load_state(interpreter.dump_state(rebuilt)) == rebuilt
        assert other.describe(execution_id).status == "succeeded"
    finally:
        other.close()


def test_an_engine_without_the_plug_in_leaves_its_executions_to_engines_with_it(
    plugin_site: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    without = Engine(store_url)  # the plug-in is not installed (yet) in this process
    assert KIND not in without.front_ends
    monkeypatch.syspath_prepend(str(plugin_site))
    with_it = Engine(store_url)
    assert KIND in with_it.front_ends
    try:
        definition = with_it.register(
            steps_text(
                ("one", "core.echo", 'message = "1"'),
                ("two", "core.echo", 'message = "2"'),
            ),
            origin="pair.steps.toml",
        )
        execution_id = with_it.start(definition)

        # Not started yet: an engine that cannot read it decides nothing for it.
        without.run_until_idle()
        assert without.get(execution_id).status == "requested"
        assert without.history(execution_id) == []

        # Started: the step's activity is anyone's to run (activities know no
        # language), but its result waits for an engine that can decide.
        with_it.decide()
        before = with_it.history(execution_id)
        assert with_it.get(execution_id).status == "running"
        without.run_until_idle()
        assert without.get(execution_id).status == "running"
        after = without.history(execution_id)
        assert after[: len(before)] == before
        assert not any(isinstance(e.event, ExecutionCompleted) for e in after)
        assert not any(isinstance(e.event, MarkerRecorded) for e in after)

        with_it.run_until_idle()
        record = with_it.get(execution_id)
        assert record.status == "succeeded"
        assert [r["stdout"] for r in record.output] == ["1", "2"]
        assert_replays(with_it, execution_id)
    finally:
        with_it.close()
        without.close()
