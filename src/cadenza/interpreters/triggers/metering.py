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

A trip sticks. User code that catches the interrupt (a bare ``except:``, or
``except BaseException``) and goes on is interrupted again on its next line
or call, until it leaves, and whatever it returns or raises afterwards is
discarded: the firing fails with ``expression.budget_exceeded`` all the
same. This takes care, because CPython removes a trace function as soon as
it raises: each interrupt is a fresh exception whose finalizer, run when the
user's handler lets go of it, installs the trace function again in the frames
between the handler and this call (and only there, only while the call
runs).

A condition that tripped does not fire; an action that tripped stops where
it was (what it did before stays, as with any exception it raises). Whether
a CPU limit trips depends on the machine's speed: keep conditions and
actions well within it, as they are replayed when a state is rebuilt. A loop
of one line that jumps to itself (``while True: pass``) runs no line events
and is not seen.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any, TypeVar

from cadenza.expressions.budget import BudgetInterrupt, current_meter, metered, size_over
from cadenza.model.errors import ExpressionBudgetExceeded

T = TypeVar("T")

#: Lines (and calls) of user code counted as one second of CPU time: the
#: deterministic side of the CPU limit, which holds where no CPU clock is
#: configured (a state rebuilt for ``status``) and trips the same way in a
#: replay. A traced line costs well under a microsecond, so this is reached
#: about when, or after, the clock's limit would be.
LINES_PER_CPU_SECOND = 5_000_000

Tracer = Callable[[FrameType, str, Any], Any]


class _Arming:
    """What re-installs tracing after an interrupt was caught: the trace
    function, the frame that called the user code (frames below it are
    Cadenza's), and whether that call is still running."""

    __slots__ = ("active", "boundary", "trace")

    def __init__(self, trace: Tracer, boundary: FrameType) -> None:
        self.trace = trace
        self.boundary = boundary
        self.active = True


class _Interrupt(BudgetInterrupt):
    """The interrupt raised into user code: one per raise, so that each is
    released (and re-arms tracing) when the handler that caught it ends."""

    def __init__(self, first: BudgetInterrupt, arming: _Arming) -> None:
        super().__init__(first.limit, first.text)
        self.arming = arming

    def __del__(self) -> None:
        # Runs in the frame whose handler let the interrupt go. No call to
        # Python code here: the trace function, once back, would interrupt it.
        arming = self.arming
        if not arming.active:
            return
        frames: list[FrameType] = []
        frame: FrameType | None = sys._getframe(1)
        while frame is not None and frame is not arming.boundary:
            frames.append(frame)
            frame = frame.f_back
        if frame is None:  # released outside the metered call: leave tracing alone
            return
        for user_frame in frames:
            user_frame.f_trace = arming.trace
        sys.settrace(arming.trace)


_REARMING_CODE = _Interrupt.__del__.__code__
#: What a trace function still called after its call ended holds (it only
#: removes itself then).
_CALL_OVER = BudgetInterrupt("cpu_seconds", "the call is over")


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

        # Set once the budget tripped or the call is over: only then does the
        # trace function do more than count (it runs on every line).
        halted: BudgetInterrupt | None = None

        def trace(frame: FrameType, event: str, arg: Any) -> Tracer | None:
            nonlocal ran, halted
            if halted is not None:
                if not arming.active or frame.f_code is _REARMING_CODE:
                    return None
                if event == "line" or event == "call":
                    raise _Interrupt(halted, arming)
                return trace
            ran += 1
            try:
                if ran > most:
                    meter.trip("cpu_seconds", f"ran more than {most} lines of Python")
                tick()
            except BudgetInterrupt as first:
                halted = first
                raise _Interrupt(first, arming) from None
            return trace

        arming = _Arming(trace, sys._getframe())
        previous = sys.gettrace()
        sys.settrace(trace)
        try:
            result = call()
        except BaseException:
            if meter.tripped is not None:  # whatever it raised after the trip
                raise meter.tripped from None
            raise
        finally:
            arming.active = False
            halted = halted or _CALL_OVER
            sys.settrace(previous)
        meter.check_clock()  # raises the trip if the user code swallowed it
        if size_over(context, meter.budget.max_bytes):
            meter.trip(
                "max_bytes", f"made its trigger's context over {meter.budget.max_bytes} bytes"
            )
        return result

    def failure(detail: str, limit: str) -> Exception:
        return ExpressionBudgetExceeded(detail, expression=what, limit=limit)

    return metered(evaluate, failure, what)
