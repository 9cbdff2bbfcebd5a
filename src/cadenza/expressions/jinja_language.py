"""Jinja (``{{ ... }}`` and ``{% ... %}``) evaluation in a sandboxed environment.

The environment uses ``StrictUndefined``, ``trim_blocks`` and ``lstrip_blocks`` as
Orquesta does. The Orquesta and StackStorm functions are globals of each evaluation
(bound to its scope); the pure ones are filters too.

An expression that yields an undefined value leaves its text in place, and any
``{{ }}`` left at the end is reported as unresolved; that is how a bare name such as
``{{ a }}`` fails in Orquesta.
"""

from __future__ import annotations

import functools
import inspect
import re
from typing import TYPE_CHECKING, Any

from cadenza.expressions import functions, st2_data
from cadenza.expressions.budget import metered, shorten
from cadenza.expressions.scope import (
    ExpressionBudgetFailure,
    ExpressionFailure,
    FunctionFailure,
    Scope,
)

if TYPE_CHECKING:
    import jinja2

    from cadenza.expressions.jinja_sandbox import BoundedSandbox

KIND = "JinjaEvaluationException"
_EXPRESSION = re.compile(r"{{.*?}}")
_BLOCK = re.compile(r"{%.*?%}")
_RAW_BLOCK = re.compile(r"{% raw %}.*?{% endraw %}")


@functools.cache
def _environment() -> BoundedSandbox:
    """The sandbox every evaluation renders in, built on first use.

    Jinja is imported here rather than with this module: importing it costs tens of
    milliseconds, and most definitions hold no Jinja at all.
    """
    import jinja2

    from cadenza.expressions.jinja_sandbox import BoundedSandbox

    environment = BoundedSandbox(
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    environment.bound_filters({**functions.PURE_FUNCTIONS, **st2_data.DATA_FUNCTIONS})
    return environment


_COMPILED_CACHE_SIZE = 4096
"""Compiled templates and expressions kept: the same texts are evaluated at every step."""


# Compiled templates and expressions keep no state between renders, so one compiled
# object serves every evaluation of the same text. Failures are not cached.
@functools.lru_cache(maxsize=_COMPILED_CACHE_SIZE)
def _template(text: str) -> jinja2.Template:
    return _environment().from_string(text)


@functools.lru_cache(maxsize=_COMPILED_CACHE_SIZE)
def _expression(body: str) -> Any:
    return _environment().compile_expression(body, undefined_to_none=False)


def _strip(expression: str) -> str:
    return expression[2:-2].strip()


def _render_variables(scope: Scope) -> dict[str, Any]:
    names: dict[str, Any] = {
        name: functools.partial(function, scope)
        for name, function in functions.SCOPED_FUNCTIONS.items()
    }
    names["random"] = functools.partial(functions.seeded_random, scope)
    names["now"] = functools.partial(functions.recorded_now, scope)
    names.update(functions.PURE_FUNCTIONS)
    names.update(st2_data.DATA_FUNCTIONS)
    # ``{{ st2kv.system.x }}``: StackStorm's attribute form of the datastore.
    names["st2kv"] = functions.DatastoreAccess(scope)
    return names


def evaluate(text: str, scope: Scope) -> Any:
    """Evaluate the Jinja in ``text``; a lone ``{{ }}`` keeps its value's type.

    Raises :class:`ExpressionFailure` with Orquesta's wording, and
    :class:`ExpressionBudgetFailure` when the evaluation goes over its budget.
    """

    def failure(detail: str, limit: str) -> ExpressionFailure:
        message = f"Unable to evaluate expression '{shorten(text)}'. {detail}"
        return ExpressionBudgetFailure(KIND, message, text, limit)

    return metered(lambda: _evaluate(text, scope), failure, text)


def _evaluate(text: str, scope: Scope) -> Any:
    raw_blocks = _RAW_BLOCK.findall(text)
    for index, block in enumerate(raw_blocks):
        text = text.replace(block, f"{{{index}}}")
    variables = _render_variables(scope)
    output = _expand(text, variables)
    if isinstance(output, str):
        unresolved = [_strip(e) for e in _EXPRESSION.findall(output)]
        if unresolved:
            raise ExpressionFailure(
                KIND, "There are unresolved variables: " + ", ".join(unresolved)
            )
        if raw_blocks:
            for index, block in enumerate(raw_blocks):
                output = output.replace(f"{{{index}}}", block)
            output = _render(output, output, variables)
    return output


def _render(template: str, expression: str, variables: dict[str, Any]) -> str:
    try:
        return str(_template(template).render(variables))
    except Exception as exc:
        raise _failure(expression, exc) from exc


def _expand(text: str, variables: dict[str, Any]) -> Any:
    import jinja2

    expressions = _EXPRESSION.findall(text)
    blocks = _BLOCK.findall(text)
    if blocks:
        # A statement block needs the whole template; its output may hold new expressions.
        return _expand(_render(text, text, variables), variables)
    output: Any = text
    for expression in expressions:
        try:
            compiled = _expression(_strip(expression))
            value = compiled(**variables)
            if inspect.isgenerator(value):
                value = list(value)
        except ExpressionFailure as exc:
            raise ExpressionFailure(
                KIND, f"Unable to evaluate expression '{expression}'. {exc.kind}: {exc.text}"
            ) from exc
        except Exception as exc:
            raise _failure(expression, exc) from exc
        if isinstance(value, str):
            value = _expand(value, variables)
        if isinstance(value, jinja2.Undefined):
            continue
        if len(expressions) > 1 or len(output) > len(expression):
            output = output.replace(expression, str(value))
        else:
            output = value
    return output


def _failure(expression: str, exc: Exception) -> ExpressionFailure:
    kind = exc.kind if isinstance(exc, FunctionFailure) else type(exc).__name__
    return ExpressionFailure(KIND, f"Unable to evaluate expression '{expression}'. {kind}: {exc}")


def has_expressions(text: str) -> bool:
    """Whether ``text`` holds a Jinja expression or statement block."""
    return _EXPRESSION.search(text) is not None or _BLOCK.search(text) is not None
