"""The States execution engine inside one decision: threads, states, errors.

A *thread* runs states of one scope one after another: the machine itself, a
Parallel branch or a Map iteration. Threads live in the interpreter state as
plain dicts (``state["threads"]`` by id) and are stepped from a ready queue, so
a Map of 10,000 iterations is a loop, not a recursion, and each event touches
only the threads it concerns (tasks and timers are indexed by id).

A state either finishes at once (Pass, Choice, ...) or blocks on a task, a
timer or child threads; the matching input event resumes it. Failures are
:class:`StateFailure`s, handled by the state's Retry and Catch, else they end
the thread; a failed child thread fails its Parallel/Map state.
"""

from __future__ import annotations

import datetime
import hashlib
from collections import deque
from typing import TYPE_CHECKING, Any

from cadenza.expressions.jsonata_language import Clock
from cadenza.interpreters.states import concurrency, simple_states, tasks
from cadenza.interpreters.states.dataflow import Env, dumps
from cadenza.interpreters.states.errors import StateFailure
from cadenza.interpreters.states.history import MARKER_KIND
from cadenza.interpreters.states.retries import catcher_for, retry_delay
from cadenza.model.commands import Command, RecordMarker, StartTimer

if TYPE_CHECKING:
    from cadenza.interpreters.states.definition import Definition

__all__ = ["Run", "iso_time"]

Thread = dict[str, Any]

_WORK = {
    "Pass": simple_states.run_pass,
    "Wait": simple_states.run_wait,
    "Choice": simple_states.run_choice,
    "Succeed": simple_states.run_succeed,
    "Fail": simple_states.run_fail,
    "Task": tasks.start_task,
    "Parallel": concurrency.start_parallel,
    "Map": concurrency.start_map,
}


def iso_time(epoch: float) -> str:
    """ISO-8601 UTC with milliseconds, as the context object shows times."""
    stamp = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Run:
    """One decision's view of an execution: folds events, collects commands."""

    def __init__(self, definition: Definition, state: dict[str, Any], now: float) -> None:
        self.definition = definition
        self.state = state
        self.now = now
        self.commands: list[Command] = []
        self.ready: deque[str] = deque()
        # Ends of branches/iterations, told to their Parallel/Map once every thread
        # that can move has moved: answers that arrive together are all recorded
        # before a failure aborts the siblings, as Step Functions does.
        self.deferred: deque[tuple[str, Any]] = deque()
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

    def timer(self, th: Thread, kind: str, delay: float, **extra: Any) -> str:
        """Start a timer that resumes ``th``; returns its id."""
        timer_id = f"{th['id']}.{kind}.{self.seq()}"
        self.state["timers"][timer_id] = {"thread": th["id"], "kind": kind, **extra}
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
        return self.definition.state(th["scope"], th["state"])

    def drain(self) -> None:
        """Step every ready thread until all are blocked or done."""
        while self.ready or self.deferred:
            if self.state["status"] != "RUNNING":
                self.ready.clear()
                self.deferred.clear()
                return
            if not self.ready:
                tid, outcome = self.deferred.popleft()
                th = self.state["threads"].get(tid)
                if th is None:
                    continue
                if isinstance(outcome, StateFailure):
                    concurrency.child_failed(self, th, outcome)
                else:
                    concurrency.child_succeeded(self, th, outcome[0])
                continue
            th = self.state["threads"].get(self.ready.popleft())
            if th is None or th["done"]:
                continue
            self.enter(th)

    def enter(self, th: Thread) -> None:
        spec = self.spec(th)
        kind = spec["Type"]
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
        self.work(th)

    def work(self, th: Thread) -> None:
        """Run (or re-run, after a retry delay) the current state's work."""
        try:
            _WORK[self.spec(th)["Type"]](self, th)
        except StateFailure as failure:
            self.state_failed(th, failure)

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
        self.state.update(status="SUCCEEDED", output=output, error=None, cause=None)

    # --- failures ---------------------------------------------------------------------------

    def state_failed(self, th: Thread, failure: StateFailure) -> None:
        """The current state failed: retry, catch, or fail the thread."""
        spec = self.spec(th)
        if not th.pop("work_failed", False):
            th["active"] = False  # it failed in its own processing, not while working
        if failure.error == "States.QueryEvaluationError" and failure.details != "reported":
            failure.details = "reported"
            details: dict[str, Any] = {"error": failure.error, "cause": failure.cause}
            if failure.location is not None:
                details["location"] = failure.location
            details["state"] = th["state"]
            th["prev"] = th["entered_prev"]  # AWS links it to what came before the state
            self.emit(th, "EvaluationFailed", "evaluationFailedEventDetails", details)
        if failure.catchable:
            delay = retry_delay(spec.get("Retry") or [], failure.error, th, self.entropy)
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
        self.state.update(status="FAILED", output=None, error=failure.error, cause=failure.cause)

    def abort(self, th: Thread) -> None:
        """Stop a thread that is still running (a sibling failed, or the Map ended)."""
        if th["done"] and not th.pop("pending_failure", False):
            return
        th["done"] = True
        if th["active"]:
            kind = self.spec(th)["Type"]
            concurrency.abort_children(self, th)
            self.emit(th, f"{kind}StateAborted")
            th["active"] = False

    # --- input events -----------------------------------------------------------------------

    def on_timer(self, timer_id: str) -> None:
        timer = self.state["timers"].pop(timer_id, None)
        if timer is None:
            return
        if timer["kind"] == "execution":
            simple_states.execution_timed_out(self)
            return
        th = self.state["threads"].get(timer["thread"])
        if th is None or th["done"]:
            return
        if timer["kind"] == "retry":
            self.work(th)
        elif timer["kind"] == "wait":
            simple_states.wait_over(self, th)
        elif timer["kind"] == "timeout":
            tasks.task_timed_out(self, th, timer)


_NOT_TRUNCATED = {"truncated": False}
