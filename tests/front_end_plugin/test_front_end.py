"""The toml-steps front end on its own: found through its entry point, detection,
checks, and an interpreter that is deterministic and never raises.

No store is involved here (store-backed behaviour is in the other modules,
on SQLite and PostgreSQL).
"""

from __future__ import annotations

import ast
import random
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from cadenza.engine.front_ends import ENTRY_POINT_GROUP, FrontEnds
from cadenza.interpreters.protocol import (
    FrontEnd,
    PendingTask,
    Recognition,
    RerunRequest,
    TaskAnswer,
)
from cadenza.model.commands import CompleteExecution, RejectRequest, ScheduleTask
from cadenza.model.definitions import CodeReference
from cadenza.model.errors import DefinitionError, DefinitionLoadError, InputError, KindUnclear
from cadenza.model.events import (
    CancelRequested,
    Event,
    ExecutionStarted,
    PauseRequested,
    RerunRequested,
    ResumeRequested,
    TaskCompleted,
    TaskStarted,
    TaskSuspended,
    TimerFired,
)

FLOW = """\
description = "say hello, then build"

[[steps]]
name = "hello"
action = "core.echo"
input = { message = "hello" }

[[steps]]
name = "build"
action = "core.local"

[steps.input]
cmd = "echo built"
"""

#: The plug-in's source, as its authors ship it.
PACKAGE = Path(__file__).resolve().parent / "toml_steps" / "cadenza_toml_steps"

ORQUESTA = "version: 1.0\ntasks:\n  t1:\n    action: core.noop\n"
STATES = '{"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}'


@pytest.fixture
def front_end(installed: Path) -> FrontEnd:
    return FrontEnds.installed().require("toml-steps")


def test_the_plug_in_is_found_through_its_entry_point_only_while_installed(
    plugin_site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "toml-steps" not in FrontEnds.installed()
    assert "toml-steps" not in entry_points(group=ENTRY_POINT_GROUP).names

    monkeypatch.syspath_prepend(str(plugin_site))
    entry = entry_points(group=ENTRY_POINT_GROUP)["toml-steps"]
    assert entry.value == "cadenza_toml_steps:create"
    assert entry.dist is not None
    assert (entry.dist.name, entry.dist.version) == ("cadenza-toml-steps", "0.1")
    front_ends = FrontEnds.installed()
    assert {"orquesta", "states", "toml-steps"} <= set(front_ends)
    front_end = front_ends.require("toml-steps")
    assert front_end.kind == "toml-steps"
    assert type(front_end).__module__ == "cadenza_toml_steps.frontend"
    assert sys.modules["cadenza_toml_steps"].__file__.startswith(str(plugin_site))  # type: ignore[union-attr]


def test_recognize_says_yes_only_for_text_with_a_steps_table(front_end: FrontEnd) -> None:
    assert front_end.recognize(FLOW) is Recognition.YES
    assert front_end.recognize("[[ steps ]]\nname = ") is Recognition.YES  # broken, still ours
    assert front_end.recognize('title = "x"\n[server]\nport = 1\n') is Recognition.NO
    assert front_end.recognize(ORQUESTA) is Recognition.NO
    assert front_end.recognize(STATES) is Recognition.NO
    assert front_end.recognize("") is Recognition.NO
    assert front_end.recognize(CodeReference("flows:NIGHTLY", "1")) is Recognition.NO


def test_detection_by_suffix_then_by_content(installed: Path) -> None:
    front_ends = FrontEnds.installed()
    assert front_ends.kind_of(FLOW, "flow.steps.toml") == "toml-steps"
    assert front_ends.kind_of(FLOW, "flow.toml") == "toml-steps"  # no suffix: content
    assert front_ends.kind_of(FLOW) == "toml-steps"
    # The suffix decides before content: even text nobody recognises is ours.
    assert front_ends.kind_of("not toml at all", "odd.steps.toml") == "toml-steps"
    # The other languages are read as before.
    assert front_ends.kind_of(ORQUESTA, "flow.yaml") == "orquesta"
    assert front_ends.kind_of(STATES, "machine.json") == "states"
    # A code reference carries no text: its kind must be named.
    with pytest.raises(KindUnclear):
        front_ends.kind_of(CodeReference("flows:NIGHTLY", "1"))


def test_every_problem_is_listed_at_once_with_its_line(front_end: FrontEnd) -> None:
    text = """\
colour = "blue"

[[steps]]
name = "a"
action = "core.echo"

[[steps]]
name = "a"
input = "not a table"

[[steps]]
action = 7
when = "later"
"""
    with pytest.raises(DefinitionError) as caught:
        front_end.compile(text, origin="bad.steps.toml")
    found = {(p.spec_path, p.line) for p in caught.value.problems}
    assert found == {
        ("colour", None),
        ("steps[1].name", 8),
        ("steps[1].action", 7),
        ("steps[1].input", 9),
        ("steps[2].name", 11),
        ("steps[2].action", 12),
        ("steps[2].when", 11),
    }
    message = caught.value.message
    assert message.startswith("bad.steps.toml: the definition has 7 problems:")
    assert "steps[1].action (line 7): a step needs an action" in message
    assert "steps[1].name (line 8): the name 'a' is already used by steps[0]" in message


def test_broken_toml_is_a_load_error_with_its_line(front_end: FrontEnd) -> None:
    with pytest.raises(DefinitionLoadError) as caught:
        front_end.compile("[[steps]]\nname = 'a'\naction = \n", origin="broken.steps.toml")
    [problem] = caught.value.problems
    assert problem.line == 3
    assert problem.message.startswith("not valid TOML: ")
    assert "broken.steps.toml" in caught.value.message


def test_a_toml_date_has_no_json_form_and_is_refused(front_end: FrontEnd) -> None:
    text = "[[steps]]\nname = 'a'\naction = 'core.echo'\ninput = { when = 2024-06-01 }\n"
    with pytest.raises(DefinitionError, match=r"steps\[0\]\.input \(line 4\): the input must"):
        front_end.compile(text)


def test_actions_are_listed_with_their_lines_for_checks_before_a_run(
    front_end: FrontEnd,
) -> None:
    uses = front_end.compile(FLOW).actions()
    assert [(u.ref, u.spec_path, u.line, u.must_exist) for u in uses] == [
        ("core.echo", "steps[0].action", 5, True),
        ("core.local", "steps[1].action", 10, True),
    ]


def test_a_code_reference_names_a_python_list_of_steps(
    front_end: FrontEnd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "flows_for_compile.py").write_text(
        "NIGHTLY = [{'name': 'a', 'action': 'core.noop'}]\n"
        "class Team:\n    ONCALL = ({'name': 'page', 'action': 'core.echo'},)\n"
        "NOT_A_LIST = {'steps': []}\n"
        "BROKEN = [{'name': 'a'}]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "flows_for_compile", raising=False)

    uses = front_end.compile(CodeReference("flows_for_compile:NIGHTLY", "1")).actions()
    assert [u.ref for u in uses] == ["core.noop"]
    nested = front_end.compile(CodeReference("flows_for_compile:Team.ONCALL", "1"))
    assert [u.ref for u in nested.actions()] == ["core.echo"]
    with pytest.raises(DefinitionLoadError, match="cannot import 'no_such_flows'"):
        front_end.compile(CodeReference("no_such_flows:NIGHTLY", "1"))
    with pytest.raises(DefinitionLoadError, match="has no 'MISSING'"):
        front_end.compile(CodeReference("flows_for_compile:MISSING", "1"))
    with pytest.raises(DefinitionLoadError, match="is dict, not a list of step dicts"):
        front_end.compile(CodeReference("flows_for_compile:NOT_A_LIST", "1"))
    with pytest.raises(DefinitionError, match=r"steps\[0\]\.action: a step needs an action"):
        front_end.compile(CodeReference("flows_for_compile:BROKEN", "1"))


def test_operator_requests_are_shaped_or_refused_by_the_front_end(front_end: FrontEnd) -> None:
    assert front_end.rerun_event(RerunRequest()) == RerunRequested(tasks=[])
    with pytest.raises(InputError, match=r"cannot start from named steps \(build\)"):
        front_end.rerun_event(RerunRequest(steps=("build",)))
    with pytest.raises(InputError, match=r"takes no options \(got reset_items\)"):
        front_end.rerun_event(RerunRequest(options={"reset_items": True}))

    task = PendingTask("e1", "approve.1", "approve", {"message": "ship?"}, attempt=1)
    assert front_end.answer(task, TaskAnswer({"ok": True})) == TaskCompleted(
        task_id="approve.1", status="succeeded", result={"ok": True}, attempt=1
    )
    failed = front_end.answer(task, TaskAnswer("no", failed=True))
    assert (failed.status, failed.result, failed.error["type"]) == ("failed", "no", "answer.failed")
    assert set(front_end.history_views()) == {"steps"}


def _run_events(interpreter: Any, batches: list[list[Event]]) -> list[list[Any]]:
    state = interpreter.new_state()
    out = []
    for batch in batches:
        out.append([c.record().payload() for c in interpreter.decide(state, batch, 0.0)])
        # A snapshot in the middle changes nothing.
        state = interpreter.load_state(interpreter.dump_state(state))
    return out


def test_the_interpreter_never_raises_and_decides_the_same_way_twice(front_end: FrontEnd) -> None:
    interpreter = front_end.compile(FLOW)
    pool: list[Event] = [
        TaskCompleted(task_id="hello.1", result="hi"),
        TaskCompleted(task_id="hello.1", status="failed", error="not a dict"),
        TaskCompleted(task_id="build.1", status="abandoned", error=None),
        TaskCompleted(task_id="build.2"),
        TaskCompleted(task_id="nobody.9"),
        TaskSuspended(task_id="hello.1"),
        TaskSuspended(task_id="build.1", status="paused"),
        TaskStarted(task_id="hello.1", worker="w"),
        PauseRequested(),
        ResumeRequested(),
        CancelRequested(),
        RerunRequested(),
        RerunRequested(tasks=[{"task_id": "hello"}]),
        TimerFired(timer_id="t"),
        ExecutionStarted(input={}),
    ]
    draw = random.Random(20240601)
    for _ in range(300):
        start: list[Event] = [ExecutionStarted(input={})]
        batches = [
            start,
            *(draw.sample(pool, draw.randint(1, 3)) for _ in range(draw.randint(1, 8))),
        ]
        first = _run_events(interpreter, batches)
        assert _run_events(interpreter, batches) == first
        state = interpreter.new_state()
        for batch in batches:
            interpreter.decide(state, batch, 0.0)
        view = interpreter.describe(state)
        assert view.status in {"running", "pausing", "paused", "succeeded", "failed", "canceled"}


def test_a_run_folds_to_the_expected_commands(front_end: FrontEnd) -> None:
    interpreter = front_end.compile(FLOW)
    state = interpreter.new_state()
    started = interpreter.decide(state, [ExecutionStarted(input={})], 0.0)
    assert [type(c).__name__ for c in started] == ["SetStatus", "ScheduleTask"]
    scheduled = started[1]
    assert isinstance(scheduled, ScheduleTask)
    assert (scheduled.task_id, scheduled.action, scheduled.input) == (
        "hello.1",
        "core.echo",
        {"message": "hello"},
    )
    failed = interpreter.decide(
        state,
        [TaskCompleted(task_id="hello.1", status="failed", error={"type": "boom", "message": "x"})],
        0.0,
    )
    assert failed == [
        CompleteExecution(
            "failed",
            output=[],
            errors=[{"type": "boom", "message": "x", "task_id": "hello.1", "step": "hello"}],
        )
    ]
    refused = interpreter.decide(state, [PauseRequested()], 0.0)
    assert refused == [
        RejectRequest(
            "pause",
            {
                "kind": "operation.refused",
                "message": "only a running execution can pause; it is failed",
            },
        )
    ]
    rerun = interpreter.decide(state, [RerunRequested()], 0.0)
    assert [getattr(c, "task_id", None) for c in rerun] == [None, "hello.2"]


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in it (relative imports stay relative)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.add("." * node.level + (node.module or ""))
    return found


def test_the_plug_in_uses_only_cadenzas_public_modules_and_its_interpreter_no_io() -> None:
    public = ("cadenza.model.", "cadenza.interpreters.protocol")
    modules = sorted(PACKAGE.glob("*.py"))
    assert [m.name for m in modules] == [
        "__init__.py",
        "definition.py",
        "frontend.py",
        "interpreter.py",
    ]
    for module in modules:
        cadenza = {name for name in _imports(module) if name.split(".")[0] == "cadenza"}
        assert all(name.startswith(public) for name in cadenza), (module.name, cadenza)
    # What runs at every decision imports no parser, no loader and nothing that does I/O.
    pure = {"__future__", "copy", "json", "collections.abc", "typing", ".definition"}
    runtime = _imports(PACKAGE / "interpreter.py") - pure
    assert all(name.startswith(public) for name in runtime), runtime
