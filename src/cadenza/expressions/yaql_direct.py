"""Direct evaluation of the simplest YAQL expressions, with YAQL's exact results.

Most expressions of real workflows are ``ctx().name``, ``ctx(name)``,
``result()``, ``succeeded()``, a literal, or one of those plus a number or
compared with one. Running them through YAQL costs tens of microseconds each:
every function call and operator goes through YAQL's overload resolution, and
every evaluation builds a child context. Here such an expression's parse tree
is compiled once into a plain Python function of the scope.

Exactness comes first: a compiled expression handles only the cases whose
outcome is certain (a key that is present, a mapping under ``.``, numbers that
are not booleans, strings, a concatenation inside the size budget) and signals
:class:`Unsupported` for anything else, and the caller then evaluates the whole
expression with YAQL. That repeat is safe because the functions compiled here
only read the scope (``random()`` and ``now()`` are never compiled). Errors are
left to YAQL for the same reason: they come out with YAQL's own wording.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping
from typing import Any

from cadenza.expressions import functions
from cadenza.expressions.budget import current_meter, current_settings, size_over
from cadenza.expressions.scope import Scope

Compiled = Callable[[Scope], Any]
"""An expression compiled to a function of the scope; it may raise :class:`Unsupported`."""

CACHE_SIZE = 4096
"""Compiled forms kept, like the parsed forms of ``syntax``: one per distinct expression."""


class Unsupported(Exception):
    """This expression, or this value of it, is for YAQL to evaluate."""


# The scope functions compiled here: pure reads, each the only overload of its
# name in the evaluation context. Called with at most one constant argument.
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "ctx": functions.ctx,
    "result": functions.result,
    "succeeded": functions.succeeded,
    "failed": functions.failed,
    "completed": functions.completed,
    "item": functions.item,
}

_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "#operator_+": operator.add,
    "#operator_-": operator.sub,
}

_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "#operator_=": operator.eq,
    "#operator_!=": operator.ne,
    "#operator_<": operator.lt,
    "#operator_>": operator.gt,
    "#operator_<=": operator.le,
    "#operator_>=": operator.ge,
}


def _is_number(value: Any) -> bool:
    # YAQL's numbers are ints and floats that are not booleans.
    return type(value) is int or type(value) is float


@functools.lru_cache(maxsize=CACHE_SIZE)
def compiled(body: str) -> Compiled | None:
    """``body`` (a parsed YAQL expression without delimiters) compiled, or None
    when it is not one of the simple forms. Raises YAQL's error on bad syntax."""
    from cadenza.expressions.syntax import parse_yaql

    try:
        return _compile(parse_yaql(body).expression)
    except Unsupported:
        return None


def _compile(node: Any) -> Compiled:
    from yaql.language import expressions as tree

    kind = type(node)
    if kind is tree.Constant:
        constant = node.value
        if constant is None or isinstance(constant, bool | int | float | str):
            return lambda scope: constant
        raise Unsupported
    if kind is tree.Function:
        return _compile_call(node)
    if kind is tree.BinaryOperator:
        if node.name == "#operator_.":
            return _compile_attribute(node)
        if node.name in _ARITHMETIC or node.name in _COMPARISONS:
            return _compile_operator(node)
    if kind is tree.UnaryOperator and node.name == "#unary_operator_-":
        return _compile_negation(node)
    raise Unsupported


def _constant_argument(node: Any) -> Any:
    """The value of a literal argument: a quoted string, a bare name, a number."""
    from yaql.language import expressions as tree

    if type(node) in (tree.Constant, tree.KeywordConstant):
        value = node.value
        if isinstance(value, str) or _is_number(value):
            return value
    raise Unsupported


def _compile_call(node: Any) -> Compiled:
    function = _FUNCTIONS.get(node.name)
    if function is None or len(node.args) > 1:
        raise Unsupported
    arguments = tuple(_constant_argument(a) for a in node.args)

    def call(scope: Scope) -> Any:
        try:
            return function(scope, *arguments)
        except Exception:
            # Undefined variable, no current task...: YAQL words the error.
            raise Unsupported from None

    return call


def _compile_attribute(node: Any) -> Compiled:
    from yaql.language import expressions as tree

    subject, name = node.args
    if type(name) is not tree.KeywordConstant or not isinstance(name.value, str):
        raise Unsupported
    key = name.value
    if type(subject) is tree.Function and subject.name == "ctx" and not subject.args:
        return _compile_context_read(key)
    read = _compile(subject)

    def attribute(scope: Scope) -> Any:
        value = read(scope)
        # A missing key is an error, and a list maps "." over its items: YAQL's.
        if not isinstance(value, Mapping) or key not in value:
            raise Unsupported
        return value[key]

    return attribute


def _compile_context_read(key: str) -> Compiled:
    """``ctx().key`` read straight from the variables: ``ctx()`` would first copy
    every variable but the private ``__`` ones, at each evaluation."""
    if key.startswith("__"):
        raise Unsupported  # not in ctx(): YAQL's error

    def context_read(scope: Scope) -> Any:
        variables = scope.variables
        if key not in variables:
            raise Unsupported
        return variables[key]

    return context_read


def _compile_operator(node: Any) -> Compiled:
    left, right = (_compile(a) for a in node.args)
    if node.name in _COMPARISONS:
        compare = _COMPARISONS[node.name]

        def comparison(scope: Scope) -> Any:
            a, b = left(scope), right(scope)
            if (_is_number(a) and _is_number(b)) or (type(a) is str and type(b) is str):
                return compare(a, b)
            raise Unsupported

        return comparison
    combine = _ARITHMETIC[node.name]
    joins_strings = node.name == "#operator_+"

    def arithmetic(scope: Scope) -> Any:
        a, b = left(scope), right(scope)
        if _is_number(a) and _is_number(b):
            return combine(a, b)
        if joins_strings and type(a) is str and type(b) is str:
            joined = a + b
            # YAQL checks its memory quota on the way; over it, let YAQL refuse.
            # Read outside any meter too: lone expressions run here unmetered first.
            meter = current_meter()
            budget = meter.budget if meter is not None else current_settings().budget
            if size_over(joined, budget.max_bytes):
                raise Unsupported
            return joined
        raise Unsupported

    return arithmetic


def _compile_negation(node: Any) -> Compiled:
    (operand,) = node.args
    read = _compile(operand)

    def negation(scope: Scope) -> Any:
        value = read(scope)
        if _is_number(value):
            return -value
        raise Unsupported

    return negation
