"""JSONata for the States language, on top of ``jsonata-python``.

``evaluate(text, bindings, clock)`` runs one ``{% ... %}`` expression with the
variables in ``bindings`` (``states`` for ``$states``, plus the workflow's own
variables) and the functions AWS adds (``$partition``, ``$range``, ``$hash``,
``$random``, ``$uuid``, ``$parse``). ``$now()``/``$millis()`` read ``clock.now``
and randomness comes from ``clock.entropy``: nothing here reads the machine.

JSON ``null`` and JSONata's *undefined* differ: the library maps both to
Python ``None`` unless asked not to, so values go in with nulls marked and come
out with :data:`UNDEFINED` standing for "nothing".
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jsonata import Jsonata
from jsonata.functions import Functions
from jsonata.jexception import JException
from jsonata.utils import Utils

from cadenza.expressions.budget import (
    BoundedPattern,
    Meter,
    bounded_pattern,
    current_meter,
    metered,
)
from cadenza.expressions.intrinsics import uuid_from
from cadenza.model.errors import ExpressionBudgetExceeded

__all__ = [
    "UNDEFINED",
    "Clock",
    "JsonataBudgetExceeded",
    "JsonataError",
    "evaluate",
    "expression_text",
    "is_expression",
]


class _Undefined:
    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Any = _Undefined()
"""What an expression that yields nothing returns."""


class JsonataError(Exception):
    """The expression could not be parsed or evaluated."""


class JsonataBudgetExceeded(JsonataError, ExpressionBudgetExceeded):
    """The evaluation went over its budget (``expression.budget_exceeded``)."""


@dataclass
class Clock:
    """Time (epoch seconds), a deterministic byte source, and a memo of converted
    values, shared by the evaluations of one decision."""

    now: float
    entropy: Callable[[int], bytes]
    #: id(value) -> (value, converted): a Map's ItemSelector evaluates once per item
    #: with the same (possibly large) ``$states.input``; converting it once keeps the
    #: cost per item independent of the number of items. Values are never mutated.
    memo: dict[int, tuple[Any, Any]] = field(default_factory=dict)


def is_expression(value: Any) -> bool:
    """Whether ``value`` is a whole-string ``{% ... %}`` expression."""
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}")


def expression_text(value: str) -> str:
    """The expression between ``{%`` and ``%}``, stripped."""
    return value[2:-2].strip()


def _bounded_regex(pattern: str, flags: Any) -> BoundedPattern:
    """A regex literal (``/.../im``), run under the budget (JSONata's pluggable engine)."""
    return bounded_pattern(
        pattern,
        (re.IGNORECASE if flags.case_insensitive else 0) | (re.MULTILINE if flags.multiline else 0),
    )


@functools.lru_cache(maxsize=2048)
def _compiled(text: str) -> Jsonata:
    try:
        expr = Jsonata(text, _bounded_regex)
    except JException as exc:
        raise JsonataError(str(exc)) from exc
    expr.set_output_convert_nulls(False)
    return expr


def _marked(value: Any) -> Any:
    if value is None:
        return Utils.NULL_VALUE
    if isinstance(value, dict):
        return {k: _marked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_marked(v) for v in value]
    return value


def _cached(value: Any, memo: dict[int, tuple[Any, Any]]) -> Any:
    """``_marked`` that converts each container once per decision: the same input and
    context members come back for every Map item, whatever their size."""
    if value is None:
        return Utils.NULL_VALUE
    if not isinstance(value, dict | list):
        return value
    hit = memo.get(id(value))
    if hit is None or hit[0] is not value:
        if isinstance(value, dict):
            converted: Any = {k: _cached(v, memo) for k, v in value.items()}
        else:
            converted = [_cached(v, memo) for v in value]
        hit = (value, converted)
        memo[id(value)] = hit
    return hit[1]


def _plain(value: Any) -> Any:
    if value is None:
        return UNDEFINED
    if value is Utils.NULL_VALUE:
        return None
    if isinstance(value, dict):
        return {k: _plain_member(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain_member(v) for v in value if v is not None]
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, bool | int | float | str):
        return value
    raise JsonataError(f"the expression returned a value that is not JSON: {value!r}")


def _plain_member(value: Any) -> Any:
    out = _plain(value)
    return None if out is UNDEFINED else out


def _aws_functions(clock: Clock) -> dict[str, Any]:
    def partition(array: Any, size: Any) -> Any:
        items = _plain(array)
        if not isinstance(items, list) or not isinstance(size, int | float) or size <= 0:
            raise JsonataError("$partition expects an array and a positive size")
        n = int(size)
        return [_marked(items[i : i + n]) for i in range(0, len(items), n)]

    def range_(start: Any, end: Any, step: Any = 1) -> Any:
        if not all(isinstance(v, int | float) for v in (start, end, step)) or step == 0:
            raise JsonataError("$range expects numbers and a non-zero step")
        values: list[Any] = []
        current = start
        while (step > 0 and current <= end) or (step < 0 and current >= end):
            values.append(current)
            current += step
            if len(values) > 1000:
                raise JsonataError("$range result over 1000 elements")
        # JSONata sequences of one value are that value, and AWS's $range is one.
        return values[0] if len(values) == 1 else values

    def hash_(value: Any, algorithm: Any = "SHA-256") -> Any:
        names = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256"}
        names.update({"SHA-384": "sha384", "SHA-512": "sha512"})
        if algorithm not in names or not isinstance(value, str):
            raise JsonataError("$hash expects a string and one of " + ", ".join(names))
        return hashlib.new(names[algorithm], value.encode()).hexdigest()

    def random(seed: Any = None) -> Any:
        raw = (
            clock.entropy(8)
            if seed is None
            else hashlib.sha256(json.dumps(_plain(seed)).encode()).digest()[:8]
        )
        return int.from_bytes(raw, "big") / 2**64

    def uuid() -> Any:
        return uuid_from(clock.entropy(16))

    def parse(text: Any) -> Any:
        if not isinstance(text, str):
            raise JsonataError("$parse expects a string")
        try:
            return _marked(json.loads(text))
        except ValueError as exc:
            raise JsonataError(f"$parse: {exc}") from exc

    def now(*_: Any) -> Any:
        stamp = datetime.datetime.fromtimestamp(clock.now, datetime.UTC)
        return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def millis() -> Any:
        return math.floor(clock.now * 1000)

    table = {
        "partition": partition,
        "range": range_,
        "hash": hash_,
        "random": random,
        "uuid": uuid,
        "parse": parse,
        "now": now,
        "millis": millis,
    }
    return {name: Jsonata.JLambda(fn) for name, fn in table.items()}


def _budget_hooks(meter: Meter) -> dict[str, Any]:
    """The library's per-node callbacks, bound in the evaluation's own frame: each
    node counts as work, and each value a node makes is size-checked."""

    def entered(*_: Any) -> None:
        meter.tick()

    def left(expr: Any, input: Any, environment: Any, result: Any) -> None:
        if isinstance(result, str):
            meter.check_length(len(result), "a string")
        elif isinstance(result, list | dict):
            meter.check_items(len(result))

    def pad(string: Any, width: Any, char: Any = None) -> Any:
        if isinstance(width, int | float) and not isinstance(width, bool):
            meter.check_length(abs(int(width)), "padded text")
        return Functions.pad(string, width, char)

    return {
        "__evaluate_entry": entered,
        "__evaluate_exit": left,
        "pad": Jsonata.JLambda(pad),
    }


def evaluate(text: str, bindings: Mapping[str, Any], clock: Clock) -> Any:
    """Evaluate the JSONata ``text``; :data:`UNDEFINED` if it yields nothing.

    Raises :class:`JsonataError` for syntax and evaluation errors, and
    :class:`JsonataBudgetExceeded` (a ``JsonataError``) when the evaluation
    goes over its budget.
    """
    expr = _compiled(text)

    def failure(detail: str, limit: str) -> Exception:
        return JsonataBudgetExceeded(detail, expression=text, limit=limit)

    return metered(lambda: _evaluate(expr, bindings, clock), failure, text)


def _evaluate(expr: Jsonata, bindings: Mapping[str, Any], clock: Clock) -> Any:
    frame: dict[str, Any] = {k: _cached(v, clock.memo) for k, v in bindings.items()}
    frame.update(_aws_functions(clock))
    meter = current_meter()
    if meter is not None:
        frame.update(_budget_hooks(meter))
    try:
        result = expr.evaluate(None, frame)
    except RecursionError as exc:
        if meter is None:
            raise JsonataError(str(exc)) from exc
        meter.trip("max_depth", "recursed deeper than the interpreter's stack allows")
    except JException as exc:
        raise JsonataError(str(exc)) from exc
    except Exception as exc:  # the library raises assorted Python errors for bad input
        raise JsonataError(str(exc)) from exc
    return _plain(result)
