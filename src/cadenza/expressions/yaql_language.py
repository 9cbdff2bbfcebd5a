"""YAQL (``<% ... %>``) evaluation with the real ``yaql`` package.

The standard library of ``yaql`` is available, minus its impure corners: ``random()``
and ``now()`` are re-registered to read the scope's seeded draws and recorded time.
"""

from __future__ import annotations

import collections.abc  # noqa: F401 - yaql 3.x uses collections.abc without importing it
import functools
import inspect
import re
from collections.abc import Callable
from typing import Any

from cadenza.expressions import functions, st2_data, yaql_direct, yaql_regex
from cadenza.expressions.budget import (
    current_meter,
    current_settings,
    metered,
    shorten,
    size_over,
)
from cadenza.expressions.scope import (
    ExpressionBudgetFailure,
    ExpressionFailure,
    FunctionFailure,
    Scope,
)
from cadenza.expressions.syntax import parse_yaql, yaql_engine

KIND = "YaqlEvaluationException"
_EXPRESSION = re.compile(r"<%.*?%>")

# yaql itself is imported at the first evaluation, not with this module: it
# costs tens of milliseconds, and a run whose definitions hold no YAQL never
# needs it.


def _scoped(function: Callable[..., Any]) -> Callable[..., Any]:
    import yaql.language.utils as yaql_utils

    convert = yaql_utils.convert_input_data

    @functools.wraps(function)
    def call(context: Any, *args: Any, **kwargs: Any) -> Any:
        value = function(context["__scope"], *args, **kwargs)
        # Hand YAQL its own immutable types so that distinct(), sets and keys work.
        return convert(value)

    # yaql injects its context into a parameter named "context".
    rest = list(inspect.signature(function).parameters.values())[1:]
    context = inspect.Parameter("context", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    call.__signature__ = inspect.Signature([context, *rest])  # type: ignore[attr-defined]
    return call


@functools.cache
def _root_context() -> Any:
    """The context every evaluation's context is a child of, built on first use."""
    import yaql

    root = yaql.create_context(regex=False)  # yaql's regex runs on re: unbounded
    yaql_regex.register(root)
    for name, function in functions.SCOPED_FUNCTIONS.items():
        root.register_function(_scoped(function), name=name)
    root.register_function(_scoped(functions.seeded_random), name="random")
    root.register_function(_scoped(functions.recorded_now), name="now")
    for name, function in {
        **functions.PURE_FUNCTIONS,
        **st2_data.DATA_FUNCTIONS,
    }.items():
        root.register_function(function, name=name)
    return root


def _strip(expression: str) -> str:
    return expression[2:-2].strip()


def evaluate(text: str, scope: Scope) -> Any:
    """Evaluate every ``<% %>`` in ``text``; a lone expression keeps its value's type.

    A string result is evaluated again (Orquesta's re-evaluation rule). Raises
    :class:`ExpressionFailure` with Orquesta's wording, and
    :class:`ExpressionBudgetFailure` when the evaluation goes over its budget.
    """

    body = _lone_body(text)
    if body is not None:
        value = _lone_direct_value(body, scope)
        if value is not _NO_VALUE:
            return value

    def failure(detail: str, limit: str) -> ExpressionFailure:
        message = f"Unable to evaluate expression '{shorten(text)}'. {detail}"
        return ExpressionBudgetFailure(KIND, message, text, limit)

    return metered(lambda: _evaluate(text, scope), failure, text)


@functools.lru_cache(maxsize=yaql_direct.CACHE_SIZE)
def _lone_body(text: str) -> str | None:
    """The body of ``text`` when it is one ``<% %>`` and nothing else, else None."""
    found = _EXPRESSION.findall(text)
    return _strip(text) if len(found) == 1 and found[0] == text else None


def _lone_direct_value(body: str, scope: Scope) -> Any:
    """The value of a lone expression computed by ``yaql_direct`` when it is a
    scalar within the size budget; ``_NO_VALUE`` leaves it to the metered path.

    Worth having because the meter costs as much as such an evaluation. Nothing
    is skipped: a compiled expression never calls a budget hook (only its string
    concatenation reads the budget, see ``yaql_direct``), so the meter's only
    effect here would be its size check of the result, made here the same way;
    a result over it, a string that would be evaluated again, a collection to
    convert and every error go the metered way, which gives them their
    wording. The repeat is safe: compiled expressions only read the scope.
    """
    try:
        run = yaql_direct.compiled(body)
        if run is None:
            return _NO_VALUE
        value = run(scope)
    except Exception:
        return _NO_VALUE
    kind = type(value)
    if kind is str:
        if _EXPRESSION.search(value) is not None:
            return _NO_VALUE
    elif not (kind is int or kind is float or kind is bool or value is None):
        return _NO_VALUE
    if size_over(value, current_settings().budget.max_bytes):
        return _NO_VALUE
    return value


def _evaluate(text: str, scope: Scope) -> Any:
    expressions = _EXPRESSION.findall(text)
    context: Any = None
    output: Any = text
    expression = text
    try:
        for expression in expressions:
            body = _strip(expression)
            value = _direct_value(body, scope)
            if value is _NO_VALUE:
                if context is None:
                    # Built only when an expression needs YAQL itself: most need not.
                    context = _root_context().create_child_context()
                    context["__scope"] = scope
                value = parse_yaql(body).evaluate(context=context)
            if inspect.isgenerator(value):
                value = list(value)
            if isinstance(value, str):
                value = _evaluate(value, scope)
            if len(expressions) > 1 or len(output) > len(expression):
                output = output.replace(expression, str(value))
            else:
                output = value
    except KeyError as exc:
        key = str(exc).strip("'")
        raise ExpressionFailure(
            KIND, f"Unable to resolve key '{key}' in expression '{expression}' from context."
        ) from exc
    except FunctionFailure as exc:
        raise _failure(expression, exc.kind, str(exc)) from exc
    except ExpressionFailure as exc:
        raise _failure(expression, exc.kind, exc.text) from exc
    except Exception as exc:
        raise _translated(expression, exc) from exc
    return output


_NO_VALUE: Any = object()


def _direct_value(body: str, scope: Scope) -> Any:
    """The value of ``body`` computed without YAQL's machinery (``yaql_direct``),
    converted as YAQL converts its results; ``_NO_VALUE`` when YAQL must evaluate it."""
    run = yaql_direct.compiled(body)
    if run is None:
        return _NO_VALUE
    try:
        value = run(scope)
    except yaql_direct.Unsupported:
        return _NO_VALUE
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    # What YAQL does to a function's result on the way in and on the way out:
    # mappings and lists rebuilt (tuples become lists), collections over the
    # item budget refused.
    import yaql.language.utils as yaql_utils

    engine = yaql_engine()
    return yaql_utils.convert_output_data(
        yaql_utils.convert_input_data(value),
        lambda items: yaql_utils.limit_iterable(items, engine),
        engine,
    )


def _translated(expression: str, exc: Exception) -> ExpressionFailure:
    """Any other error of an evaluation, as the ExpressionFailure Orquesta reports."""
    # Imported here, once an evaluation failed: yaql is loaded by then.
    import yaql.language.exceptions as yaql_exceptions

    if isinstance(exc, yaql_exceptions.MemoryQuotaExceededException):
        return _over(expression, "max_bytes", "made a value over the size budget")
    if isinstance(exc, yaql_exceptions.CollectionTooLargeException):
        return _over(expression, "max_items", "read a collection over the item budget")
    if isinstance(exc, (yaql_exceptions.YaqlException, ValueError, TypeError)):
        return _failure(expression, type(exc).__name__, str(exc).strip("'"))
    return _failure(expression, type(exc).__name__, str(exc))


def _over(expression: str, limit: str, what: str) -> ExpressionFailure:
    """YAQL's own quota errors, as budget overruns (an ExpressionFailure outside any)."""
    meter = current_meter()
    if meter is not None:
        meter.trip(limit, what)
    return _failure(expression, "ExpressionBudgetExceeded", what)


def _failure(expression: str, kind: str, text: str) -> ExpressionFailure:
    return ExpressionFailure(KIND, f"Unable to evaluate expression '{expression}'. {kind}: {text}")


def has_expressions(text: str) -> bool:
    """Whether ``text`` holds a YAQL expression."""
    return _EXPRESSION.search(text) is not None
