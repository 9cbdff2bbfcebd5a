"""Strands: how workflow code is suspended and resumed between decisions.

A strand runs the user's code until it waits for a future that history has
not resolved yet, and reports what happened. Two faces, one runtime:

* ``async def`` code runs as a coroutine that **stays alive** in the
  interpreter state: ``await future`` yields the future out of the
  coroutine, and the next decision sends control back in once history
  resolves it. Each event is folded once, so a run of *n* steps costs O(n)
  hot and O(n) on a cold replay.
* plain ``def`` code (the simpleflow face) cannot be frozen mid-call without
  threads or stack switching, which an interpreter may not use. It is run
  **from the start** at each decision that resolves what it waits for, as
  simpleflow's decider does: reading an unresolved ``future.result`` raises an
  internal interrupt that unwinds the run. Already-finished tasks return their
  recorded results at once, and no command is issued twice, so re-running is
  safe; its cost grows with the number of tasks before the waiting point
  (O(n²) over a long sequential run). Prefer ``async def`` for long workflows.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from cadenza.interpreters.code.continuation import ContinueAsNew, Continued
from cadenza.interpreters.code.futures import Future
from cadenza.interpreters.code.runtime import Runtime, WorkflowUsageError


@dataclass(frozen=True)
class Returned:
    """The code returned ``value``."""

    value: Any


@dataclass(frozen=True)
class Raised:
    """The code raised ``error``."""

    error: BaseException


@dataclass(frozen=True)
class Waiting:
    """The code waits for ``future``."""

    future: Future


Progress = Returned | Raised | Waiting | Continued


class _Blocked(BaseException):
    """Unwinds a restarting run at an unresolved future.

    A ``BaseException`` so that the workflow's own ``except Exception`` does
    not swallow it.
    """

    def __init__(self, future: Future) -> None:
        super().__init__(future.task_id)
        self.future = future


class CoroutineStrand:
    """An ``async def`` workflow kept alive between decisions."""

    def __init__(self, runtime: Runtime, start: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        self._runtime = runtime
        self._start = start
        self._coroutine: Coroutine[Any, Any, Any] | None = None
        self._waiting: Future | None = None
        runtime.suspend = _no_blocking_in_async

    def advance(self) -> Progress | None:
        """Run until the code waits or ends; None if what it waits for is not done."""
        if self._waiting is not None and not self._waiting.done:
            return None
        try:
            if self._coroutine is None:
                self._coroutine = self._start()
            awaited = self._coroutine.send(None)
        except StopIteration as stop:
            return Returned(stop.value)
        except ContinueAsNew as continuing:
            return Continued(continuing.input)
        except Exception as exc:
            return Raised(exc)
        if not isinstance(awaited, Future):
            error = WorkflowUsageError(
                f"workflow code awaited {awaited!r}: a workflow may only await what the "
                "workflow API returns (activities, timers, signals, children), never "
                "asyncio or other I/O"
            )
            self._coroutine.close()
            return Raised(error)
        self._waiting = awaited
        return Waiting(awaited)

    def close(self) -> None:
        if self._coroutine is not None:
            self._coroutine.close()


class RestartStrand:
    """A plain ``def`` workflow run from the start whenever it can go further."""

    def __init__(self, runtime: Runtime, start: Callable[[], Any]) -> None:
        self._runtime = runtime
        self._start = start
        self._waiting: Future | None = None
        runtime.suspend = _block

    def advance(self) -> Progress | None:
        """Run from the start until the code waits or ends; None if what it
        waited for last time is still not done."""
        if self._waiting is not None and not self._waiting.done:
            return None
        self._runtime.begin_run()
        try:
            value = self._start()
        except _Blocked as blocked:
            self._waiting = blocked.future
            return Waiting(blocked.future)
        except ContinueAsNew as continuing:
            return Continued(continuing.input)
        except Exception as exc:
            return Raised(exc)
        return Returned(value)

    def close(self) -> None:
        """Nothing is held between runs."""


Strand = CoroutineStrand | RestartStrand


def _block(future: Future) -> None:
    raise _Blocked(future)


def _no_blocking_in_async(future: Future) -> None:
    raise WorkflowUsageError(
        f"{future!r} is not finished: in an async def workflow, 'await' it instead of "
        "reading .result"
    )
