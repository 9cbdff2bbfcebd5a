"""What people and programs ask of executions: pause, resume, cancel, rerun,
signals, a front end's own operator requests, and answers to waiting tasks.

Each request is delivered to the execution's inbox and decided at once; one
its state does not allow is recorded as ``RequestRejected`` (see
``last_rejection``), not raised. ``Engine`` offers these as its methods.
"""

from __future__ import annotations

from collections.abc import Mapping

from cadenza.engine.answers import answer_waiting_task
from cadenza.engine.clock import Clock
from cadenza.engine.front_ends import FrontEnds
from cadenza.interpreters.protocol import RerunRequest, TaskAnswer, operator_requests_of
from cadenza.model.errors import InputError, OperationRefused
from cadenza.model.events import (
    JSON,
    CancelRequested,
    Event,
    OperatorRequested,
    PauseRequested,
    RecordedEvent,
    ResumeRequested,
    SignalReceived,
)
from cadenza.model.statuses import ExecutionStatus
from cadenza.store.protocol import Store
from cadenza.store.records import ExecutionRecord


class ExecutionRequests:
    """The requests part of ``Engine`` (it provides the store, the clock, the
    front ends, the wake-up and the lookups used here)."""

    store: Store
    clock: Clock
    front_ends: FrontEnds

    def wake(self) -> None:
        raise NotImplementedError

    def get(self, execution_id: str) -> ExecutionRecord:
        raise NotImplementedError

    def history(self, execution_id: str, after_seq: int = 0) -> list[RecordedEvent]:
        raise NotImplementedError

    def is_final(self, record: ExecutionRecord) -> bool:
        raise NotImplementedError

    def decide(self) -> int:
        raise NotImplementedError

    def pause(self, execution_id: str) -> None:
        """Ask the execution to pause (its interpreter may refuse)."""
        self._request(execution_id, PauseRequested())

    def resume(self, execution_id: str) -> None:
        """Ask a paused execution to go on."""
        self._request(execution_id, ResumeRequested())

    def cancel(self, execution_id: str) -> None:
        """Ask the execution to stop."""
        self._request(execution_id, CancelRequested())

    def rerun(self, execution_id: str, request: RerunRequest | None = None) -> None:
        """Run a finished execution again, as ``request`` says (default: from what
        failed); its front end shapes and checks the request."""
        record = self.get(execution_id)
        event = self.front_ends.require(record.kind).rerun_event(request or RerunRequest())
        self._request(execution_id, event)

    def signal(self, execution_id: str, name: str, data: JSON = None, *, by: str = "") -> None:
        """Send the running execution the signal ``name`` with ``data``; its
        front end decides what it means (``SignalReceived`` in history)."""
        record = self.get(execution_id)
        if self.is_final(record):
            raise OperationRefused(
                f"execution {execution_id} is {record.status}: it takes no more signals",
                execution_id=execution_id,
                status=record.status,
            )
        self._request(execution_id, SignalReceived(name=name, data=data, by=by))

    def operator_request(
        self,
        execution_id: str,
        request: str,
        args: Mapping[str, JSON] | None = None,
        *,
        by: str = "",
        reason: str = "",
    ) -> None:
        """Record an operator's ``request`` of the execution's front end (one of
        its ``operator_requests``), with who asked and why; the front end
        carries it out or refuses it (see ``last_rejection``)."""
        record = self.get(execution_id)
        offered = operator_requests_of(self.front_ends.require(record.kind))
        if request not in offered:
            names = ", ".join(sorted(offered)) or "none"
            raise InputError(
                f"{record.kind} executions take no operator request {request!r} "
                f"(they take: {names})",
                request=request,
            )
        event = OperatorRequested(request=request, args=dict(args or {}), by=by, reason=reason)
        self._request(execution_id, event)

    def respond(
        self,
        execution_id: str,
        task: str,
        result: JSON = None,
        *,
        failed: bool = False,
        resume: bool = True,
    ) -> None:
        """Answer a task of ``execution_id`` that waits for an answer: ``task`` is its
        name (the oldest waiting task of that name is answered) or its task id.

        The front end checks the answer (a wrong one is refused with
        ``InputError`` and the task keeps waiting). A workflow that paused
        because it was waiting is resumed in the same round (``resume=False``
        leaves it paused).
        """
        now = self.clock.now()
        answer = TaskAnswer(result, failed)
        answer_waiting_task(self.store, self.front_ends, self.get(execution_id), task, answer, now)
        if resume and self.get(execution_id).status == ExecutionStatus.PAUSED:
            self.store.deliver(execution_id, [ResumeRequested()], now)
        self.decide()

    def _request(self, execution_id: str, event: Event) -> None:
        self.store.deliver(execution_id, [event], self.clock.now())
        self.wake()
        self.decide()

    def last_rejection(self, execution_id: str) -> JSON:
        """The error of the newest ``RequestRejected`` in history, if the newest
        request was refused (for the CLI to report refusals)."""
        for recorded in reversed(self.history(execution_id)):
            if recorded.event.type == "RequestRejected":
                return getattr(recorded.event, "error", None)
            if recorded.event.is_input:
                return None
        return None
