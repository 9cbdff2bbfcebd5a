"""Checking the pack workflows a definition calls, as ``cadenza validate`` does.

A task calling a pack's ``runner_type: orquesta`` action runs that action's workflow
file as a child execution. Checking only the definition given would miss an unknown
action inside that file until the child runs, so the check follows each workflow
action the definition names, and the workflow actions those files name in turn,
and reports every problem found, each with the file it is in (``Problem.file``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from cadenza.engine.definitions import compile_checked
from cadenza.engine.front_ends import FrontEnds
from cadenza.interpreters.orquesta.interpreter import OrquestaInterpreter
from cadenza.interpreters.protocol import Interpreter
from cadenza.model.definitions import DefinitionSource
from cadenza.model.errors import DefinitionError, InputError, Problem
from cadenza.packs.metadata import PackAction
from cadenza.packs.pack import WORKFLOW_KIND, Pack
from cadenza.workers.registry import ActivityRegistry


def compile_with_called_workflows(
    packs: Sequence[Pack],
    front_ends: FrontEnds,
    registry: ActivityRegistry,
    source: DefinitionSource,
    *,
    kind: str | None = None,
    origin: str | None = None,
) -> tuple[str, Interpreter]:
    """The kind and interpreter of ``source``, as ``compile_checked`` gives them, after
    checking also the workflow files of the pack workflow actions it calls (and those
    they call); ``DefinitionError`` (for ``origin``) listing every problem: the
    definition's own, then each called file's, with that file."""
    kind, interpreter = compile_checked(front_ends, None, source, kind=kind, origin=origin)
    problems = _unknown_actions(front_ends, registry, source, kind, origin)
    workflows = {action.ref: action for pack in packs for action in pack.workflows}
    seen: set[str] = set()
    pending = _called(interpreter, workflows, caller=None)
    while pending:
        action, called_at = pending.pop(0)
        if action.ref in seen:
            continue
        seen.add(action.ref)
        file = str(action.entry_point)
        text = _read(action)
        try:
            _, called = compile_checked(front_ends, None, text, kind=WORKFLOW_KIND, origin=file)
        except DefinitionError as exc:
            problems += [_in_file(p, file, action.ref, called_at) for p in exc.problems]
            continue
        found = _unknown_actions(front_ends, registry, text, WORKFLOW_KIND, file)
        problems += [_in_file(p, file, action.ref, called_at) for p in found]
        pending += _called(called, workflows, caller=action.ref)
    if problems:
        raise DefinitionError(problems=problems, source=origin)
    return kind, interpreter


def _unknown_actions(
    front_ends: FrontEnds,
    registry: ActivityRegistry,
    source: DefinitionSource,
    kind: str,
    origin: str | None,
) -> list[Problem]:
    """The actions ``source`` names that no activity of ``registry`` provides."""
    try:
        compile_checked(front_ends, registry, source, kind=kind, origin=origin)
    except DefinitionError as exc:
        return list(exc.problems)
    return []


def _called(
    interpreter: Interpreter, workflows: dict[str, PackAction], caller: str | None
) -> list[tuple[PackAction, str]]:
    """The pack workflow actions the definition's tasks name literally, each with
    where it is called (``tasks.<name>.action``, after the calling action's ref)."""
    if not isinstance(interpreter, OrquestaInterpreter):
        return []
    found: list[tuple[PackAction, str]] = []
    for name, task in interpreter.definition.tasks.items():
        action = workflows.get(str(task.action)) if task.action is not None else None
        if action is not None:
            where = f"tasks.{name}.action"
            found.append((action, where if caller is None else f"{caller}: {where}"))
    return found


def _in_file(problem: Problem, file: str, ref: str, called_at: str) -> Problem:
    message = f"{problem.message} (in the workflow of {ref!r}, called at {called_at})"
    return replace(problem, message=message, file=problem.file or file)


def _read(action: PackAction) -> str:
    path = action.entry_point
    assert path is not None  # a workflow action without one is refused when read
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}", path=str(path)) from exc
