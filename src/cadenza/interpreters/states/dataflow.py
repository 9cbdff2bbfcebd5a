"""Moving data through one state: the JSONPath fields and the JSONata ones.

JSONPath mode: ``InputPath`` → ``Parameters`` → (work) → ``ResultSelector`` →
``ResultPath`` → ``OutputPath``, with payload templates (``key.$``) that read
paths, the context object (``$$``), variables (``$name``) and intrinsic
functions. JSONata mode: ``Arguments`` and ``Output`` are templates whose
``{% ... %}`` strings are evaluated with ``$states`` and the variables.

Every failure is a :class:`StateFailure` with AWS's error name and cause text.
Values are written as Step Functions writes them: JSON text by :func:`dumps`,
times by :func:`iso_time`.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cadenza.expressions import intrinsics, jsonata_language, jsonpath
from cadenza.expressions.jsonata_language import UNDEFINED, Clock, JsonataError
from cadenza.interpreters.states.errors import StateFailure, runtime_cause
from cadenza.interpreters.states.path_syntax import aws_path

__all__ = ["Env", "dumps", "iso_time"]


def dumps(value: Any) -> str:
    """Compact JSON text, as Step Functions writes payloads."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def iso_time(epoch: float) -> str:
    """ISO-8601 UTC with milliseconds, as the context object shows times."""
    stamp = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Env:
    """What expressions in one state can see."""

    state_name: str
    entered_id: int
    context: dict[str, Any]
    variables: dict[str, Any]
    clock: Clock
    states: dict[str, Any] = field(default_factory=dict)

    # --- failures --------------------------------------------------------------

    def failure(self, error: str, detail: str, location: str | None = None) -> StateFailure:
        """A failure of this state's own processing, with AWS's cause prefix."""
        cause = runtime_cause(self.state_name, self.entered_id, detail)
        return StateFailure(error, cause, location=location)

    # --- JSONPath ----------------------------------------------------------------

    def read(self, path: str, data: Any) -> Any:
        """The value of a path (input, ``$$`` context or ``$variable``); raises PathNotFound.

        The path is read as AWS reads it (:func:`aws_path`)."""
        root, name, rest = jsonpath.split_root(aws_path(path))
        if root == "context":
            return jsonpath.select(rest, self.context)
        if root == "variable":
            assert name is not None
            if name not in self.variables:
                raise jsonpath.PathNotFound(path, f"The variable '{name}' is not defined")
            return jsonpath.select(rest, self.variables[name])
        return jsonpath.select(rest, data)

    def select_field(self, path: str | None, data: Any, field_name: str) -> Any:
        """InputPath/OutputPath/ItemsPath: ``None`` gives ``{}``."""
        if path is None:
            return {}
        try:
            return self.read(path, data)
        except jsonpath.PathNotFound as exc:
            raise self.failure(
                "States.Runtime", f"Invalid path '{path}' : {exc}", field_name
            ) from None

    def value_of(self, expr: str, data: Any, key: str) -> Any:
        """The value of a ``key.$`` field: an intrinsic call or a path."""
        if intrinsics.is_call(expr):
            return self.intrinsic(expr, data, key)
        try:
            return self.read(expr, data)
        except jsonpath.PathNotFound:
            raise self.failure(
                "States.Runtime",
                f"The JSONPath '{expr}' specified for the field '{key}' could not be found "
                f"in the input '{dumps(data)}'",
            ) from None

    def intrinsic(self, expr: str, data: Any, key: str) -> Any:
        try:
            call = intrinsics.parse_call(expr)

            def resolve(path: str) -> Any:
                try:
                    return self.read(path, data)
                except jsonpath.PathNotFound as exc:
                    raise intrinsics.IntrinsicError(str(exc)) from None

            return intrinsics.evaluate(call, resolve, self.clock.entropy)
        except intrinsics.IntrinsicError as exc:
            raise self.failure("States.IntrinsicFailure", str(exc)) from None

    def render(self, template: Any, data: Any) -> Any:
        """A payload template (``Parameters``, ``ResultSelector``, ``ItemSelector``...)."""
        if isinstance(template, dict):
            out: dict[str, Any] = {}
            for key, value in template.items():
                if key.endswith(".$") and isinstance(value, str):
                    out[key[:-2]] = self.value_of(value, data, key)
                else:
                    out[key] = self.render(value, data)
            return out
        if isinstance(template, list):
            return [self.render(v, data) for v in template]
        return template

    def put_result(self, path: Any, raw_input: Any, result: Any, absent: bool) -> Any:
        """ResultPath: ``absent`` (no field) means ``$``; ``None`` keeps the input."""
        if absent:
            return result
        if path is None:
            return raw_input
        try:
            return jsonpath.put(raw_input, aws_path(str(path)), result)
        except jsonpath.PathNotFound:
            raise self.failure(
                "States.ResultPathMatchFailure",
                f"Unable to apply ResultPath '{path}' to input '{dumps(raw_input)}'",
            ) from None

    def assign_jsonpath(self, assign: dict[str, Any], data: Any) -> dict[str, Any]:
        """The variables an ``Assign`` block (JSONPath mode) sets."""
        rendered = self.render(assign, data)
        assert isinstance(rendered, dict)
        return rendered

    # --- JSONata -------------------------------------------------------------------

    def bindings(self) -> dict[str, Any]:
        out = dict(self.variables)
        out["states"] = self.states
        return out

    def jsonata(self, value: Any, location: str) -> Any:
        """Evaluate a JSONata template (expressions at any depth); literals stay."""
        if jsonata_language.is_expression(value):
            text = jsonata_language.expression_text(value)
            try:
                result = jsonata_language.evaluate(text, self.bindings(), self.clock)
            except JsonataError as exc:
                raise self.failure(
                    "States.QueryEvaluationError",
                    f"The JSONata expression '{text}' specified for the field '{location}' "
                    f"threw an error during evaluation. {evaluation_error(exc)}",
                    location,
                ) from None
            if result is UNDEFINED:
                raise self.failure(
                    "States.QueryEvaluationError",
                    f"The JSONata expression '{text}' specified for the field '{location}' "
                    "returned nothing (undefined).",
                    location,
                )
            return result
        if isinstance(value, dict):
            return {k: self.jsonata(v, f"{location}/{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self.jsonata(v, f"{location}/{i}") for i, v in enumerate(value)]
        return value

    def jsonata_typed(
        self, value: Any, location: str, expected: str, check: Callable[[Any], bool]
    ) -> Any:
        """Evaluate a scalar JSONata field that must give a value of one JSON type."""
        result = self.jsonata(value, location)
        if not check(result) and jsonata_language.is_expression(value):
            text = jsonata_language.expression_text(value)
            raise self.failure(
                "States.QueryEvaluationError",
                f"The JSONata expression '{text}' specified for the field '{location}' "
                f"returned an unexpected result type. Expected '{expected}', but was "
                f"'{json_type(result)}' for value: {dumps(result)}",
                location,
            )
        return result


#: What a Python error inside the JSONata library means, in JSONata's terms (with
#: the code of the reference implementation where one error is certain).
_PYTHON_ERRORS: dict[type[BaseException], str] = {
    ZeroDivisionError: "D1001: Number out of range",
    OverflowError: "D1001: Number out of range",
    RecursionError: "U1001: Stack overflow error",
    TypeError: "A function or operator was given a value of the wrong type",
    ValueError: "A function was given a value it cannot use",
}


def evaluation_error(exc: JsonataError) -> str:
    """The detail of a failed evaluation, as JSONata words it.

    Errors of the language (the library's, or those of the functions Step Functions
    adds) keep their text; a Python error the library let through (``float division
    by zero``...) is described by its JSONata meaning, never by Python's text.
    """
    cause = exc.__cause__
    if cause is None or isinstance(cause, JsonataError) or type(cause).__module__ != "builtins":
        return str(exc)
    for kind, text in _PYTHON_ERRORS.items():
        if isinstance(cause, kind):
            return text
    return "The expression could not be evaluated"


def json_type(value: Any) -> str:
    """The JSON type name of a value, as AWS messages spell it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
