"""Reading a toml-steps definition into a tuple of checked ``Step`` values.

A definition is TOML text::

    description = "optional"

    [[steps]]
    name = "hello"
    action = "core.echo"
    input = { message = "hello" }

or, through a ``CodeReference`` (``module:qualname`` at a version), a Python
list of the same step tables as dicts. Both are checked the same way and every
problem is reported at once, as a ``DefinitionError``.

Reading happens when a definition is compiled (at registration, or the first
time a process decides for it): this module may parse and import. The
interpreter that runs the steps does neither.
"""

from __future__ import annotations

import importlib
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cadenza.model.definitions import CodeReference
from cadenza.model.errors import DefinitionError, DefinitionLoadError, Problem

#: Keys a definition may have at its top level, and a step may have.
TOP_KEYS = ("description", "steps")
STEP_KEYS = ("action", "input", "name")

#: The header of one step table (``[[steps]]``), alone on its line.
STEPS_HEADER = re.compile(r"^[ \t]*\[\[[ \t]*steps[ \t]*\]\][ \t]*(#.*)?$", re.MULTILINE)
_ANY_HEADER = re.compile(r"^[ \t]*\[")
_STEP_KEY = re.compile(r"^[ \t]*(name|action|input)[ \t]*=")
_INPUT_HEADER = re.compile(r"^[ \t]*\[[ \t]*steps[ \t]*\.[ \t]*input[ \t]*\]")
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


@dataclass(frozen=True)
class Step:
    """One checked step: run ``action`` with ``input`` (a JSON object)."""

    name: str
    action: str
    input: Mapping[str, Any]
    #: Where the step's action is written (TOML only), for messages.
    line: int | None = None


def read_text(text: str, origin: str | None) -> tuple[Step, ...]:
    """The steps of TOML ``text`` (``origin`` names the file in messages)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message, line = _toml_error(str(exc))
        raise DefinitionLoadError(
            problems=[Problem("", f"not valid TOML: {message}", line=line)], source=origin
        ) from exc
    return check(document, _key_lines(text), origin)


def read_code(reference: CodeReference, origin: str | None) -> tuple[Step, ...]:
    """The steps of the Python list ``reference`` names (imported here, at compile time)."""
    where = origin or str(reference)
    try:
        target: Any = importlib.import_module(reference.module)
    except Exception as exc:  # any failure of the user's module is a problem of the definition
        raise DefinitionLoadError(
            problems=[
                Problem("", f"cannot import {reference.module!r}: {type(exc).__name__}: {exc}")
            ],
            source=where,
        ) from exc
    for part in reference.qualname.split("."):
        if not hasattr(target, part):
            raise DefinitionLoadError(
                problems=[Problem("", f"{reference.module!r} has no {reference.qualname!r}")],
                source=where,
            )
        target = getattr(target, part)
    if not isinstance(target, list | tuple):
        raise DefinitionLoadError(
            problems=[
                Problem(
                    "",
                    f"{reference.target} is {type(target).__name__}, not a list of step dicts",
                )
            ],
            source=where,
        )
    return check({"steps": list(target)}, [], where)


def check(
    document: Mapping[str, Any], lines: list[dict[str, int]], origin: str | None
) -> tuple[Step, ...]:
    """Every problem of ``document`` at once; the steps if there are none.

    ``lines`` holds, for each ``[[steps]]`` table in order, the line of the
    table's header (key ``""``) and of each of its keys.
    """
    problems: list[Problem] = []
    for key in sorted(set(document) - set(TOP_KEYS)):
        problems.append(Problem(key, f"unknown key (known: {', '.join(TOP_KEYS)})"))
    description = document.get("description")
    if description is not None and not isinstance(description, str):
        problems.append(Problem("description", "the description must be text"))
    raw_steps = document.get("steps")
    if raw_steps is None:
        problems.append(Problem("steps", "a definition needs at least one [[steps]] table"))
        raw_steps = []
    elif not isinstance(raw_steps, list) or not raw_steps:
        problems.append(Problem("steps", "steps must be a non-empty list of [[steps]] tables"))
        raw_steps = []
    if len(lines) != len(raw_steps):
        lines = []  # written some other way (an inline array): no line numbers

    steps: list[Step] = []
    first_use: dict[str, str] = {}
    for i, raw in enumerate(raw_steps):
        path = f"steps[{i}]"
        where = lines[i] if lines else {}

        def problem(
            key: str, message: str, path: str = path, where: dict[str, int] = where
        ) -> None:
            spec_path = f"{path}.{key}" if key else path
            problems.append(Problem(spec_path, message, line=where.get(key) or where.get("")))

        if not isinstance(raw, Mapping):
            problem("", f"a step is a table of name, action and input, not {_kind(raw)}")
            continue
        for key in sorted(set(raw) - set(STEP_KEYS)):
            problem(key, f"unknown key (known: {', '.join(STEP_KEYS)})")
        name, action, given = raw.get("name"), raw.get("action"), raw.get("input", {})
        if name is None:
            problem("name", "a step needs a name")
        elif not isinstance(name, str) or not name.strip():
            problem("name", f"the name must be non-empty text, not {_kind(name)}")
        elif name in first_use:
            problem("name", f"the name {name!r} is already used by {first_use[name]}")
        else:
            first_use[name] = path
        if action is None:
            problem("action", "a step needs an action (an activity name such as core.echo)")
        elif not isinstance(action, str) or not action.strip():
            problem("action", f"the action must be an activity name, not {_kind(action)}")
        step_input: dict[str, Any] = {}
        if not isinstance(given, Mapping):
            problem("input", f"the input must be a table, not {_kind(given)}")
        else:
            try:
                # A copy in JSON form: later changes to the caller's data change nothing,
                # and a value JSON cannot carry (a TOML date) is refused here.
                step_input = json.loads(json.dumps(given, allow_nan=False))
            except (TypeError, ValueError) as exc:
                problem("input", f"the input must be JSON data (write dates as text): {exc}")
        if isinstance(name, str) and isinstance(action, str):
            steps.append(Step(name, action, step_input, where.get("action")))
    if problems:
        raise DefinitionError(problems=problems, source=origin)
    return tuple(steps)


def _toml_error(text: str) -> tuple[str, int | None]:
    """``tomllib``'s message without its position, and the line it names."""
    found = _TOML_POSITION.search(text)
    if found is None:
        return text, None
    return f"{text[: found.start()]} (column {found.group(2)})", int(found.group(1))


def _key_lines(text: str) -> list[dict[str, int]]:
    """For each ``[[steps]]`` table: the line of its header and of its keys.

    A hint for messages only (TOML parsers do not report positions), so a
    simple scan of lines is enough; a step written another way gets none.
    """
    tables: list[dict[str, int]] = []
    inside = False  # among the keys of the current step table itself
    for number, line in enumerate(text.splitlines(), start=1):
        if STEPS_HEADER.match(line):
            tables.append({"": number})
            inside = True
        elif _INPUT_HEADER.match(line) and tables:
            tables[-1].setdefault("input", number)
            inside = False
        elif _ANY_HEADER.match(line):
            inside = False
        elif inside and (key := _STEP_KEY.match(line)):
            tables[-1].setdefault(key.group(1), number)
    return tables


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "empty text" if not value.strip() else "text"
    if isinstance(value, list | tuple):
        return "an array"
    return type(value).__name__
