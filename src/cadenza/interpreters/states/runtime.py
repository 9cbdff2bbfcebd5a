"""One decision's view of an execution (:class:`Run`): the steps every state shares.

A *thread* runs states of one scope one after another: the machine itself, a
Parallel branch or a Map iteration. Threads live in the interpreter state as
plain dicts (``state["threads"]`` by id, see :mod:`.state`) and are stepped
from a ready queue by the interpreter, so a Map of 10,000 iterations is a loop,
not a recursion, and each event touches only the threads it concerns (tasks
and timers are indexed by id).

:class:`Run` is what the modules doing each state type's work build on: it
numbers things, records history events and starts timers, creates threads,
builds expression environments, and leaves states. A state either finishes at
once (Pass, Choice, ...) or blocks on a task, a timer or child threads; the
matching input event resumes it. Failures are :class:`StateFailure`s, handled
by the state's Retry and Catch, else they end the thread; a failed child
thread is queued for its Parallel/Map state (:attr:`Run.deferred`).

This module knows no state type's work: which function does it is the
interpreter's dispatch table.
"""

from __future__ import annotations

import hashlib
from collections import deque
from typing import TYPE_CHECKING, Any

from cadenza.expressions.jsonata_language import Clock
from cadenza.interpreters.states.dataflow import Env, dumps, iso_time
from cadenza.interpreters.states.errors import StateFailure
from cadenza.interpreters.states.history import MARKER_KIND
from cadenza.interpreters.states.retries import catcher_for, retry_delay
from cadenza.model.commands import Command, RecordMarker, StartTimer

if TYPE_CHECKING:
    from cadenza.interpreters.states.definition import Definition
    from cadenza.interpreters.states.state import ExecutionState, Thread, Timer

__all__ = ["Run"]


class Run:
    """One decision's view of an execution: the state it changes, the threads ready
    to step and the commands it collects."""

    def __init__(self, definition: Definition, state: ExecutionState, now: float) -> None:
        self.definition = definition
        self.state = state
        self.now = now
        self.commands: list[Command] = []
        self.ready: deque[str] = deque()
        # Ends of branches/iterations (thread id, ``(output,)`` or the failure), told
        # to their Parallel/Map once every thread that can move has moved: answers
        # that arrive together are all recorded before a failure aborts the
        # siblings, as Step Functions does.
        self.deferred: deque[tuple[str, tuple[Any] | StateFailure]] = deque()
        self.memo: dict[int, tuple[Any, Any]] = {}

    # --- bookkeeping ----------------------------------------------------------------

    def seq(self) -> int:
        """A fresh number, unique in the execution (ids of threads, tasks, timers)."""
        self.state["seq"] += 1
        return int(self.state["seq"])

    def entropy(self, n: int) -> bytes:
        """``n`` deterministic bytes drawn from the execution's seed."""
        out = b""
        while len(out) < n:
            self.state["draws"] += 1
            out += hashlib.sha256(f"{self.state['seed']}:{self.state['draws']}".encode()).digest()
        return out[:n]

    def clock(self) -> Clock:
        return Clock(self.now, self.entropy, self.memo)

    def emit(
        self, th: Thread | None, kind: str, key: str | None = None, details: Any = None
    ) -> int:
        """Record one Step Functions history event; returns its id."""
        if th is not None and th.get("silent"):
            return 0  # a child execution of a distributed Map: its own history
        event_id = int(self.state["next_event_id"])
        self.state["next_event_id"] = event_id + 1
        record: dict[str, Any] = {
            "id": event_id,
            "previousEventId": int(th["prev"]) if th is not None else 0,
            "type": kind,
            "timestamp": self.now,
        }
        if key is not None:
            record[key] = details
        self.commands.append(RecordMarker(MARKER_KIND, record))
        if th is not None:
            th["prev"] = event_id
        return event_id

    def timer(self, th: Thread, kind: str, delay: float, task: str | None = None) -> str:
        """Start a timer that resumes ``th`` (a ``timeout`` one names its ``task``);
        returns its id."""
        timer_id = f"{th['id']}.{kind}.{self.seq()}"
        timer: Timer = {"thread": th["id"], "kind": kind}
        if task is not None:
            timer["task"] = task
        self.state["timers"][timer_id] = timer
        self.commands.append(StartTimer(timer_id, max(0.0, float(delay))))
        return timer_id

    # --- threads ----------------------------------------------------------------------

    def new_thread(
        self,
        scope: str,
        parent: str | None,
        slot: int,
        state_input: Any,
        variables: dict[str, Any],
        prev: int,
    ) -> Thread:
        tid = "root" if parent is None else f"t{self.seq()}"
        th: Thread = {
            "id": tid,
            "scope": scope,
            "parent": parent,
            "slot": slot,
            "state": self.definition.scopes[scope].start_at,
            "input": state_input,
            "vars": dict(variables),
            "prev": prev,
            "entered": 0,
            "entered_time": self.now,
            "attempts": {},
            "retry_count": 0,
            "active": False,
            "done": False,
        }
        self.state["threads"][tid] = th
        return th

    def spec(self, th: Thread) -> dict[str, Any]:
        """The definition of ``th``'s current state."""
        return self.definition.state(th["scope"], th["state"])

    def entered(self, th: Thread) -> None:
        """Record that ``th`` enters its current state (its work comes next)."""
        kind = self.spec(th)["Type"]
        th["entered_time"] = self.now
        th["attempts"] = {}
        th["retry_count"] = 0
        th["active"] = True
        th["entered_prev"] = th["prev"]
        th["entered"] = self.emit(
            th,
            f"{kind}StateEntered",
            "stateEnteredEventDetails",
            {"name": th["state"], "input": dumps(th["input"]), "inputDetails": _NOT_TRUNCATED},
        )

    # --- expression environments --------------------------------------------------------

    def context(self, th: Thread, **extra: Any) -> dict[str, Any]:
        """The context object (``$$`` / ``$states.context``) for ``th``'s current state."""
        ctx = self.state["context"]
        spec = self.spec(th)
        state_ctx: dict[str, Any] = {
            "Name": th["state"],
            "EnteredTime": iso_time(th["entered_time"]),
        }
        if spec.get("Type") in ("Task", "Parallel", "Map"):
            state_ctx["RetryCount"] = th["retry_count"]
        out: dict[str, Any] = {
            "Execution": dict(ctx["Execution"], RedriveCount=self.state["redrive_count"]),
            "StateMachine": dict(ctx["StateMachine"]),
            "State": state_ctx,
        }
        out.update(extra)
        return out

    def env(self, th: Thread, states: dict[str, Any] | None = None, **extra: Any) -> Env:
        context = self.context(th, **extra)
        bound = dict(states or {})
        bound["context"] = context
        return Env(th["state"], th["entered"], context, th["vars"], self.clock(), bound)

    # --- leaving a state ------------------------------------------------------------------

    def leave(
        self,
        th: Thread,
        output: Any,
        assigned: dict[str, Any] | None,
        next_state: str | None,
    ) -> None:
        """The state exits with ``output``; go to ``next_state`` or end the thread."""
        spec = self.spec(th)
        th.pop("redrive_frame", None)
        details: dict[str, Any] = {
            "name": th["state"],
            "output": dumps(output),
            "outputDetails": _NOT_TRUNCATED,
        }
        if assigned:
            details["assignedVariables"] = {k: dumps(v) for k, v in assigned.items()}
            details["assignedVariablesDetails"] = _NOT_TRUNCATED
        if assigned:
            th["vars"].update(assigned)
        self.emit(th, f"{spec['Type']}StateExited", "stateExitedEventDetails", details)
        th["active"] = False
        if next_state is None:
            self.thread_succeeded(th, output)
        else:
            th["state"] = next_state
            th["input"] = output
            self.ready.append(th["id"])

    def next_of(self, spec: dict[str, Any]) -> str | None:
        return None if spec.get("End") or "Next" not in spec else str(spec["Next"])

    def thread_succeeded(self, th: Thread, output: Any) -> None:
        th["done"] = True
        if th["parent"] is None:
            self.execution_succeeded(th, output)
        else:
            self.deferred.append((th["id"], (output,)))

    def execution_succeeded(self, th: Thread, output: Any) -> None:
        self.emit(
            th,
            "ExecutionSucceeded",
            "executionSucceededEventDetails",
            {"output": dumps(output), "outputDetails": _NOT_TRUNCATED},
        )
        self.state.update({"status": "SUCCEEDED", "output": output, "error": None, "cause": None})

    # --- failures ---------------------------------------------------------------------------

    def state_failed(self, th: Thread, failure: StateFailure) -> None:
        """The current state failed: retry, catch, or fail the thread."""
        spec = self.spec(th)
        if not th.pop("work_failed", False):
            th["active"] = False  # it failed in its own processing, not while working
        if failure.error == "States.QueryEvaluationError" and failure.details != "reported":
            th["prev"] = th["entered_prev"]  # AWS links it to what came before the state
            self.evaluation_failed(th, failure)
        if failure.catchable:
            delay = retry_delay(
                spec.get("Retry") or [], failure.error, th["attempts"], self.entropy
            )
            if delay is not None:
                th.pop("failed_events", None)
                th["retry_count"] += 1
                self.timer(th, "retry", delay)
                return
        for kind in th.pop("failed_events", []):
            self.emit(th, kind)
        if failure.catchable:
            catcher = catcher_for(spec.get("Catch") or [], failure.error)
            if catcher is not None:
                self.caught(th, catcher, failure)
                return
        self.thread_failed(th, failure)

    def evaluation_failed(self, th: Thread, failure: StateFailure) -> None:
        """Record the ``EvaluationFailed`` event of a JSONata failure (once)."""
        failure.details = "reported"
        details: dict[str, Any] = {"error": failure.error, "cause": failure.cause}
        if failure.location is not None:
            details["location"] = failure.location
        details["state"] = th["state"]
        self.emit(th, "EvaluationFailed", "evaluationFailedEventDetails", details)

    def caught(self, th: Thread, catcher: dict[str, Any], failure: StateFailure) -> None:
        error_output = {"Error": failure.error, "Cause": failure.cause}
        if failure.cause is None:
            error_output = {"Error": failure.error}
        spec = self.spec(th)
        assigned: dict[str, Any] | None = None
        try:
            if self.definition.is_jsonata(spec):
                env = self.env(th, {"input": th["input"], "errorOutput": error_output})
                if "Assign" in catcher:
                    assigned = env.jsonata(catcher["Assign"], "Assign")
                output = (
                    env.jsonata(catcher["Output"], "Output")
                    if "Output" in catcher
                    else error_output
                )
            else:
                env = self.env(th)
                if "Assign" in catcher:
                    assigned = env.assign_jsonpath(catcher["Assign"], error_output)
                output = env.put_result(
                    catcher.get("ResultPath"),
                    th["input"],
                    error_output,
                    absent="ResultPath" not in catcher,
                )
        except StateFailure as inner:
            # The catcher's own Output/Assign failed: not caught again, but a JSONata
            # failure is recorded as one, like any other.
            if inner.error == "States.QueryEvaluationError" and inner.details != "reported":
                self.evaluation_failed(th, inner)
            self.thread_failed(th, inner)
            return
        self.leave(th, output, assigned, str(catcher["Next"]))

    def thread_failed(self, th: Thread, failure: StateFailure) -> None:
        th["done"] = True
        if th["parent"] is None:
            self.execution_failed(th, failure)
        else:
            th["pending_failure"] = True
            self.deferred.append((th["id"], failure))

    def execution_failed(self, th: Thread | None, failure: StateFailure) -> None:
        details: dict[str, Any] = {}
        if failure.error is not None:
            details["error"] = failure.error
        if failure.cause:
            details["cause"] = failure.cause
        self.emit(th, "ExecutionFailed", "executionFailedEventDetails", details)
        self.state.update(
            {"status": "FAILED", "output": None, "error": failure.error, "cause": failure.cause}
        )


_NOT_TRUNCATED = {"truncated": False}
