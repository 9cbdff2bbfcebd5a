"""Futures: what ``submit``, timers, signals and children return to a workflow.

A future is *running* until history holds its outcome, then *finished* with a
result or an exception. Reading :attr:`Future.result` of a running future
suspends the workflow until the outcome is recorded (the workflow code never
sees a half-known value); ``await future`` does the same in ``async def``
workflows. :func:`wait` suspends until every future given is finished.

Suspension is the only way a workflow waits: no thread, no clock. How it is
carried out depends on the workflow's face (see ``strands``).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from enum import StrEnum
from typing import Any

from cadenza.model.errors import CadenzaError
from cadenza.model.events import JSON


class FutureState(StrEnum):
    """Where a future stands (simpleflow's states, without PENDING: a submit
    is scheduled at once)."""

    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"


class TaskFailed(CadenzaError):
    """A task of the workflow (activity, child, timer) did not succeed.

    ``task_id`` names the task, ``status`` is how it ended (``failed``,
    ``timeout``, ``canceled``, ``abandoned``) and ``error`` is the recorded
    error object. Uncaught in a workflow, it fails the execution with that
    error.
    """

    code = "code.task_failed"

    def __init__(self, task_id: str, status: str, error: JSON) -> None:
        message = error.get("message") if isinstance(error, dict) else None
        super().__init__(
            f"task {task_id!r} {status}" + (f": {message}" if message else ""),
            task_id=task_id,
            status=status,
            error=error,
        )
        self.task_id = task_id
        self.status = status
        self.error = error


#: How a future suspends the workflow until it is done (set by the runtime).
Suspend = Callable[["Future"], None]


class Future:
    """The outcome of one task, known once history records it."""

    def __init__(self, task_id: str, suspend: Suspend) -> None:
        self.task_id = task_id
        self._suspend = suspend
        self.state = FutureState.RUNNING
        self._result: Any = None
        self._exception: BaseException | None = None

    def set_result(self, result: Any) -> None:
        """Finish with ``result`` (the runtime calls this from history)."""
        self.state = FutureState.FINISHED
        self._result = result

    def set_exception(self, exception: BaseException) -> None:
        """Finish with ``exception`` (the runtime calls this from history)."""
        self.state = FutureState.FINISHED if not _is_cancel(exception) else FutureState.CANCELLED
        self._exception = exception

    @property
    def done(self) -> bool:
        """Whether the outcome is known (finished or cancelled)."""
        return self.state is not FutureState.RUNNING

    @property
    def finished(self) -> bool:
        """Same as ``done`` (simpleflow's name)."""
        return self.done

    @property
    def running(self) -> bool:
        """Whether the outcome is still unknown."""
        return self.state is FutureState.RUNNING

    @property
    def cancelled(self) -> bool:
        return self.state is FutureState.CANCELLED

    @property
    def result(self) -> Any:
        """The result; suspends the workflow until it is known; raises the task's
        failure (a :class:`TaskFailed`) if it did not succeed."""
        if not self.done:
            self._suspend(self)
        if self._exception is not None:
            raise self._exception
        return self._result

    @property
    def exception(self) -> BaseException | None:
        """The failure, or None if the task succeeded; suspends until known."""
        if not self.done:
            self._suspend(self)
        return self._exception

    def __await__(self) -> Generator[Future, None, Any]:
        if not self.done:
            yield self
        if self._exception is not None:
            raise self._exception
        return self._result

    def __repr__(self) -> str:
        return f"<Future {self.task_id} {self.state}>"


def _is_cancel(exception: BaseException) -> bool:
    return isinstance(exception, TaskFailed) and exception.status == "canceled"


class AllOf(Future):
    """Finished when every one of ``futures`` is; its result is their results."""

    def __init__(self, futures: Iterable[Future], suspend: Suspend) -> None:
        self.parts = list(futures)
        #: The parts before this index are known done (a part never runs again):
        #: asking at every decision then costs O(new outcomes), not O(parts).
        self._known_done = 0
        super().__init__("all(" + ", ".join(f.task_id for f in self.parts) + ")", suspend)
        self.refresh()

    def _all_done(self) -> bool:
        parts = self.parts
        while self._known_done < len(parts) and parts[self._known_done].done:
            self._known_done += 1
        return self._known_done == len(parts)

    def refresh(self) -> None:
        """Finish once the parts are all done (the first failure, in order, wins)."""
        if self.state is not FutureState.RUNNING or not self._all_done():
            return
        for part in self.parts:
            if part._exception is not None:
                self.set_exception(part._exception)
                return
        self.set_result([part._result for part in self.parts])

    @property
    def done(self) -> bool:
        if self.state is FutureState.RUNNING and self._all_done():
            self.refresh()
        return self.state is not FutureState.RUNNING


def wait(*futures: Future) -> list[Any]:
    """The results of ``futures``, in order; suspends until all are finished.

    Raises the first failure (in argument order) if any did not succeed.
    """
    if not futures:
        return []
    return list(all_of(*futures).result)


def all_of(*futures: Future) -> AllOf:
    """One future finished when all of ``futures`` are (``await all_of(a, b)``)."""
    if not futures:
        raise ValueError("all_of needs at least one future")
    return AllOf(futures, futures[0]._suspend)
