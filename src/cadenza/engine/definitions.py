"""Checking a definition and an input before anything is stored.

These run before a store is opened (``cadenza validate``, ``cadenza run``
with bad input must leave nothing behind, not even an empty store file), and
inside ``Engine.register``/``Engine.start``, so the CLI, the API and Python
callers refuse the same things with the same messages.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from cadenza.engine.front_ends import FrontEnds
from cadenza.interpreters.protocol import FrontEnd, Interpreter
from cadenza.model.definitions import DefinitionSource
from cadenza.model.errors import ActionNotFound, DefinitionError, InputError, Problem
from cadenza.model.events import JSON
from cadenza.workers.registry import ActivityRegistry


def compile_checked(
    front_ends: FrontEnds,
    registry: ActivityRegistry | None,
    source: DefinitionSource,
    *,
    kind: str | None = None,
    origin: str | None = None,
) -> tuple[str, Interpreter]:
    """The kind and interpreter of ``source``; ``DefinitionError`` listing every
    problem, including (with a ``registry``) actions it names that must exist
    and that no activity of ``registry`` provides.

    Without a registry, actions are not checked: workers elsewhere (other
    processes, other languages) may provide them.
    """
    kind = kind or front_ends.kind_of(source, origin)
    interpreter = front_ends.require(kind).compile(source, origin=origin)
    if registry is None:
        return kind, interpreter
    unknown = [use for use in interpreter.actions() if use.must_exist and use.ref not in registry]
    if unknown:
        problems = [
            Problem(
                spec_path=use.spec_path,
                message=_action_error(registry, use.ref),
                category="actions",
                line=use.line,
            )
            for use in unknown
        ]
        raise DefinitionError(problems=problems, source=origin)
    return kind, interpreter


def checked_input(front_end: FrontEnd, value: JSON, where: str = "the workflow input") -> JSON:
    """``value`` as an execution of ``front_end`` takes it (None means ``{}``);
    ``InputError`` if it is not JSON, or not an object where one is needed."""
    if value is None:
        value = {}
    if front_end.input_must_be_object and not isinstance(value, Mapping):
        raise InputError(f"{where} must be a JSON object, not {_json_type(value)}")
    if isinstance(value, Mapping):
        value = dict(value)
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{where} is not JSON: {exc}") from exc
    except RecursionError:
        raise InputError(f"{where} nests arrays or objects too deeply") from None
    return value


def _action_error(registry: ActivityRegistry, name: str) -> str:
    try:
        registry.get(name)
    except ActionNotFound as exc:
        return exc.message
    return f"unknown action {name!r}"


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__
