"""Running a user's condition or action under the expression budget.

Built-in conditions and actions are Cadenza's own code and run as they are.
A condition or action registered by a user is code Cadenza does not know: it
runs under the same budget as an expression of the other front ends
(:mod:`cadenza.expressions.budget`), so that a runaway one fails its
trigger's firing with ``expression.budget_exceeded`` and the workspace goes
on:

* CPU time: a trace function, installed for the call only and in the calling
  thread only, ticks the budget's meter on every call and line the user code
  runs (the meter reads the CPU clock every few ticks, when one is
  configured); a loop that never calls anything still runs lines. The lines
  are also counted, ``LINES_PER_CPU_SECOND`` per second of the budget, which
  bounds the call where no clock is configured and is the same in every
  replay. The cost falls on user code alone;
* size: the trigger's context, after the call, may not be over ``max_bytes``;
* depth: a recursion deeper than the interpreter allows counts as over
  ``max_depth``.

A condition that tripped does not fire; an action that tripped stops where
it was (what it did before stays, as with any exception it raises). Whether
a CPU limit trips depends on the machine's speed: keep conditions and
actions well within it, as they are replayed when a state is rebuilt.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any, TypeVar

from cadenza.expressions.budget import current_meter, metered, size_over
from cadenza.model.errors import ExpressionBudgetExceeded

T = TypeVar("T")

#: Lines (and calls) of user code counted as one second of CPU time: the
#: deterministic side of the CPU limit, which holds where no CPU clock is
#: configured (a state rebuilt for ``status``) and trips the same way in a
#: replay. A traced line costs well under a microsecond, so this is reached
#: about when, or after, the clock's limit would be.
LINES_PER_CPU_SECOND = 5_000_000

Tracer = Callable[[FrameType, str, Any], Any]


def run_metered(call: Callable[[], T], what: str, context: Any) -> T:
    """``call()`` under the current expression budget; ``what`` names it in the
    error (``ExpressionBudgetExceeded``) and ``context`` is the trigger context
    whose size is checked afterwards."""

    def evaluate() -> T:
        meter = current_meter()
        assert meter is not None  # metered() made it
        tick = meter.tick
        most = max(int(meter.budget.cpu_seconds * LINES_PER_CPU_SECOND), 1)
        ran = 0

        def trace(frame: FrameType, event: str, arg: Any) -> Tracer:
            nonlocal ran
            ran += 1
            if ran > most:
                meter.trip("cpu_seconds", f"ran more than {most} lines of Python")
            tick()
            return trace

        previous = sys.gettrace()
        sys.settrace(trace)
        try:
            result = call()
        finally:
            sys.settrace(previous)
        meter.check_clock()
        if size_over(context, meter.budget.max_bytes):
            meter.trip(
                "max_bytes", f"made its trigger's context over {meter.budget.max_bytes} bytes"
            )
        return result

    def failure(detail: str, limit: str) -> Exception:
        return ExpressionBudgetExceeded(detail, expression=what, limit=limit)

    return metered(evaluate, failure, what)
