"""The Jinja environment Orquesta expressions run in: sandboxed, and held to a budget.

Jinja's ``SandboxedEnvironment`` already refuses unsafe attributes and caps
``range`` at 100,000 items. On top of it, each evaluation's budget
(:mod:`cadenza.expressions.budget`) is kept here:

* the hooks every template goes through (calls, attribute and item lookups,
  operators, filters, the pieces of rendered output) count work and check the
  CPU budget;
* operators that make big values from small ones are checked before they run:
  ``*`` on strings and lists, ``**``, ``+``, ``%`` formatting widths, ``~``
  concatenation; so are padding methods and filters (``center``, ``ljust``,
  ``indent``...) and ``format`` widths;
* what a call or filter returns, and the rendered output, are size-checked.

Outside an evaluation (no meter), nothing is limited.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from typing import Any

import jinja2
import jinja2.sandbox
from jinja2.compiler import CodeGenerator, Frame
from jinja2.nodes import Concat

from cadenza.expressions.budget import Meter, current_meter

__all__ = ["BoundedSandbox"]

#: Methods and filters whose integer arguments are the width of what they make.
_PADDING = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs", "indent"})

#: A width or precision in a ``%`` format (``%300000000s``) or a ``{}`` format spec.
_PERCENT_WIDTH = re.compile(r"%[-+ #0*]*(\d+)?(?:\.(\d+))?")
_NESTED_WIDTH = re.compile(r"\{[^{}]*:[^{}]*\{")
_BRACE_WIDTH = re.compile(r"\{[^{}]*?:[^{}]*?(\d+)(?:\.(\d+))?[^{}]*\}")


def _sized(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple | dict) else 0


def _check_widths(meter: Meter, pattern: re.Pattern[str], template: Any) -> None:
    if not isinstance(template, str):
        return
    for match in pattern.finditer(template):
        for number in match.groups():
            if number is not None and len(number) > 6:
                meter.check_length(int(number), "formatted text")


def _check_result(meter: Meter, value: Any) -> Any:
    meter.check_length(_sized(value))
    return value


def _check_binop(meter: Meter, op: str, left: Any, right: Any) -> None:
    sequence = (str, list, tuple)
    if op == "*":
        if isinstance(left, sequence) and isinstance(right, int):
            meter.check_length(len(left) * right, "a repeated value")
        elif isinstance(right, sequence) and isinstance(left, int):
            meter.check_length(len(right) * left, "a repeated value")
    elif op == "**":
        if isinstance(left, int) and isinstance(right, int) and right > 0:
            bits = max(1, abs(left).bit_length() - 1) * right
            meter.check_length(bits // 8, "a number (in bytes)")
    elif op == "+":
        if isinstance(left, sequence) and isinstance(right, sequence):
            meter.check_length(len(left) + len(right), "a concatenated value")
    elif op == "%":
        _check_widths(meter, _PERCENT_WIDTH, left)


class _BoundedCodeGenerator(CodeGenerator):
    """Compiles ``a ~ b`` to a size-checked join instead of a plain one."""

    def visit_Concat(self, node: Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile or frame.eval_ctx.autoescape:
            super().visit_Concat(node, frame)
            return
        self.write("environment.join_text((")
        for argument in node.nodes:
            self.visit(argument, frame)
            self.write(", ")
        self.write("))")


class BoundedSandbox(jinja2.sandbox.SandboxedEnvironment):
    """A sandboxed environment whose templates keep the running evaluation's budget."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.concat = self._join_output  # type: ignore[method-assign]

    def bound_filters(self, filters: dict[str, Callable[..., Any]]) -> None:
        """Add ``filters``, then put every filter behind the budget checks."""
        self.filters.update(filters)
        for name, function in list(self.filters.items()):
            self.filters[name] = _bounded_filter(name, function)

    # --- hooks ---------------------------------------------------------------------

    @staticmethod
    def _join_output(pieces: Iterable[str]) -> str:
        # Rendering yields its output piece by piece as the template runs, so this
        # loop is also where a long template meets the CPU check.
        meter = current_meter()
        if meter is None:
            return "".join(pieces)
        limit = meter.budget.max_bytes
        parts: list[str] = []
        total = 0
        for piece in pieces:
            total += len(piece)
            if total > limit:
                meter.check_length(total, "rendered text")
            parts.append(piece)
            if not len(parts) & 15:
                meter.tick()
        return "".join(parts)

    @staticmethod
    def join_text(pieces: Iterable[Any]) -> str:
        """``a ~ b ~ ...``: the pieces as text, refused when over the size budget."""
        texts = [str(piece) for piece in pieces]
        meter = current_meter()
        if meter is not None:
            meter.tick()
            meter.check_length(sum(map(len, texts)), "concatenated text")
        return "".join(texts)

    def call_binop(
        self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any
    ) -> Any:
        meter = current_meter()
        if meter is not None:
            meter.tick()
            _check_binop(meter, operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(
        __self,  # Jinja's own signature, so that no keyword argument is shadowed
        __context: jinja2.runtime.Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        meter = current_meter()
        if meter is None:
            return super().call(__context, __obj, *args, **kwargs)
        meter.tick()
        name = getattr(__obj, "__name__", "")
        widths: tuple[Any, ...] = ()
        if name in _PADDING:
            widths = (*args, *kwargs.values())
        elif name in ("format", "format_map"):
            # The sandbox hands out str.format wrapped; the text is on the original.
            template = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
            _check_widths(meter, _BRACE_WIDTH, template)
            if isinstance(template, str) and _NESTED_WIDTH.search(template):
                widths = (*args, *kwargs.values())  # '{:>{}}'.format('x', 10**9)
        for argument in widths:
            if isinstance(argument, int):
                meter.check_length(argument, "padded text")
        return _check_result(meter, super().call(__context, __obj, *args, **kwargs))

    def getattr(self, obj: Any, attribute: str) -> Any:
        meter = current_meter()
        if meter is not None:
            meter.tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        meter = current_meter()
        if meter is not None:
            meter.tick()
        return super().getitem(obj, argument)


def _bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)  # keeps Jinja's pass_context/pass_environment marks
    def bounded(*args: Any, **kwargs: Any) -> Any:
        meter = current_meter()
        if meter is None:
            return function(*args, **kwargs)
        meter.tick()
        if name in _PADDING:
            for argument in (*args[1:], *kwargs.values()):
                if isinstance(argument, int):
                    meter.check_length(argument, "padded text")
        elif name == "format" and args:
            _check_widths(meter, _PERCENT_WIDTH, args[0])
        return _check_result(meter, function(*args, **kwargs))

    return bounded
