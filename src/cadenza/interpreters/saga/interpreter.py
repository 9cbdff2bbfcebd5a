"""The decision function of a saga: forward in dependency order, unwinding on failure.

The rules are Steno's (see ``docs/reference/sagas.md``):

* **Forward.** A node runs when all its parents are done; everything that can
  run is scheduled at once (up to ``max_parallel`` tasks, if set). Constants,
  subsaga boundaries, start and end are decided in place.
* **Unwinding** starts at the first failed action (or at a cancel). No new
  action starts. A node is reached when all its children are undone: never
  started -> ``abandoned``; failed -> stays ``failed`` (a failed action is
  not undone); still running -> it finishes first, then is treated by its
  outcome; done -> its undo runs. The saga fails (or is canceled) when every
  node is settled; its error names the failed node with the lowest index.
* **Stuck.** An undo that fails for good (a non-retryable error, or its retry
  policy is spent) stops all new work; once nothing is in flight the saga is
  ``stuck`` until an operator acts: ``retry-undo``, ``mark-undone`` (with a
  reason), or ``abandon``.

The state is JSON (see ``new_state``); nodes are referred to by their index
in the graph, so a running saga always decides on the graph it started with.
``decide`` does no I/O, reads no clock and raises for nothing a saga or an
operator can do.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from cadenza.interpreters.protocol import ActionUse, ExecutionView
from cadenza.model.commands import (
    Command,
    CompleteExecution,
    RecordMarker,
    RejectRequest,
    ScheduleTask,
    SetStatus,
)
from cadenza.model.events import (
    JSON,
    CancelRequested,
    Event,
    ExecutionStarted,
    OperatorRequested,
    PauseRequested,
    RerunRequested,
    ResumeRequested,
    SignalReceived,
    TaskCompleted,
)
from cadenza.model.retry import WORKER_LOST, RetryPolicy

from . import references
from .faults import INJECTED_ERROR, faults_from_context
from .graph import ACTION, CONSTANT, SUBSAGA_END, SUBSAGA_START, GraphNode, SagaGraph
from .names import FINAL as FINAL
from .names import KIND as KIND
from .names import WAITING as WAITING
from .operations import apply_operator_request
from .view import execution_view, stuck_errors

#: Node states that count as undone when unwinding.
SETTLED_BACKWARD = frozenset({"undone", "abandoned", "failed"})

#: An undo with no policy of its own: retried with capped backoff until it
#: succeeds, fails with a non-retryable error, or an operator acts.
DEFAULT_UNDO_RETRY = RetryPolicy(max_attempts=2**31, initial_delay=1.0, backoff=2.0, max_delay=60.0)
#: What the kernel retries by itself: an attempt whose worker was lost (a
#: crashed process) runs again, as Steno re-runs a node logged as started.
KERNEL_RETRY = RetryPolicy(
    max_attempts=2**31,
    initial_delay=0.0,
    backoff=2.0,
    max_delay=30.0,
    retryable_errors=frozenset({WORKER_LOST}),
)


class SagaInterpreter:
    """Runs one saga graph (the ``Interpreter`` protocol)."""

    kind = KIND

    def __init__(self, graph: SagaGraph) -> None:
        self.graph = graph

    # --- the protocol ------------------------------------------------------------------

    def new_state(self) -> dict[str, Any]:
        """``status``; ``params``; per node ``state``, ``output``, ``error``,
        ``runs`` (tasks scheduled, for task ids), ``attempt`` (of the current
        side), ``repeat`` (runs left of an injected repeat), ``task``; ``tasks``
        maps outstanding task ids to ``[node, side]``; ``undone`` lists nodes in
        the order they were undone; ``cause`` says why the saga unwinds."""
        return {
            "status": "requested",
            "params": None,
            "nodes": [_new_node() for _ in self.graph.nodes],
            "tasks": {},
            "undone": [],
            "cause": None,
            "faults": {},
            "errors": [],
        }

    def decide(self, state: dict[str, Any], events: Sequence[Event], now: float) -> list[Command]:
        out: list[Command] = []
        for event in events:
            if isinstance(event, ExecutionStarted):
                self._start(state, event, out)
            elif isinstance(event, TaskCompleted):
                self._completed(state, event, out)
            elif isinstance(event, CancelRequested):
                self._cancel(state, out)
            elif isinstance(event, OperatorRequested):
                apply_operator_request(self, state, event, out)
            elif isinstance(event, PauseRequested | ResumeRequested | RerunRequested):
                out.append(_refusal(event.type, "a saga cannot pause, resume or rerun"))
            elif isinstance(event, SignalReceived):
                out.append(_refusal("signal", f"a saga takes no signal ({event.name!r})"))
        return out

    def dump_state(self, state: Any) -> JSON:
        return json.loads(json.dumps(state))

    def load_state(self, data: JSON) -> Any:
        return json.loads(json.dumps(data))

    def describe(self, state: Any) -> ExecutionView:
        return execution_view(self.graph, state, final=state["status"] in FINAL)

    def stuck_errors(self, state: dict[str, Any]) -> list[JSON]:
        """One error per node whose undo is stuck (see ``view.stuck_errors``)."""
        return stuck_errors(self.graph, state)

    def actions(self) -> list[ActionUse]:
        uses = []
        for node in self.graph.nodes:
            for side, step in (("do", node.do), ("undo", node.undo)):
                if step is not None:
                    uses.append(ActionUse(step.activity, f"{node.spec_path}.{side}"))
        return uses

    # --- forward ---------------------------------------------------------------------------

    def _start(self, state: dict[str, Any], event: ExecutionStarted, out: list[Command]) -> None:
        if state["status"] != "requested":
            return
        state["params"] = event.input
        state["faults"] = faults_from_context(event.context)
        out.append(
            RecordMarker(
                "saga",
                {
                    "saga": self.graph.name,
                    "version": self.graph.version,
                    "graph": self.graph.digest,
                    "nodes": len(self.graph.nodes),
                },
            )
        )
        missing = [
            p
            for p in self.graph.params
            if not isinstance(event.input, dict) or p not in event.input
        ]
        if missing:
            state["errors"] = [
                {
                    "type": "saga.params",
                    "message": f"the saga's input lacks {', '.join(missing)} "
                    f"(it needs {', '.join(self.graph.params)})",
                }
            ]
            self._finish(state, "failed", out)
            return
        self.set_status(state, "running", out)
        self.advance(state, out)

    def advance(self, state: dict[str, Any], out: list[Command]) -> None:
        """Start every node whose parents are done; finish when the end node is."""
        nodes = state["nodes"]
        changed = True
        while changed:
            changed = False
            for node in self.graph.nodes:
                entry = nodes[node.index]
                if entry["state"] != "pending":
                    continue
                if not all(nodes[p]["state"] == "done" for p in node.parents):
                    continue
                if node.kind == ACTION:
                    if not self._room(state):
                        return
                    self._run_action(state, node, out)
                    if state["status"] != "running":
                        return  # its input could not be built: the saga unwinds
                else:
                    entry["output"] = self._trivial_output(state, node)
                    entry["state"] = "done"
                    changed = True
        if nodes[self.graph.end]["state"] == "done":
            self._finish(state, "succeeded", out)

    def _run_action(self, state: dict[str, Any], node: GraphNode, out: list[Command]) -> None:
        assert node.do is not None
        entry = state["nodes"][node.index]
        fault = state["faults"].get(node.path, {})
        entry["repeat"] = int(fault.get("action_repeat", 1))
        entry["attempt"] = 0
        try:
            entry["input"] = references.resolve(
                node.do.input, self._params(state, node), self._visible(state, node)
            )
        except references.ReferenceMissing as exc:
            entry["state"] = "failed"
            entry["error"] = {"type": "saga.reference", "message": str(exc), "node": node.path}
            self._begin_unwinding(state, {"failed": node.index}, out)
            return
        entry["state"] = "running"
        self._schedule(state, node, "do", 0.0, out)

    def _schedule(
        self, state: dict[str, Any], node: GraphNode, side: str, delay: float, out: list[Command]
    ) -> None:
        step = node.do if side == "do" else node.undo
        assert step is not None
        entry = state["nodes"][node.index]
        entry["runs"] += 1
        entry["attempt"] += 1
        task_id = f"{node.path}.{side}.{entry['runs']}"
        entry["task"] = task_id
        state["tasks"][task_id] = [node.index, side]
        fault = state["faults"].get(node.path, {})
        activity = step.activity
        if fault.get("action_error" if side == "do" else "undo_error"):
            activity = INJECTED_ERROR
        if side == "do":
            task_input = entry["input"]
        elif step.input is None:
            task_input = {"input": entry["input"], "output": entry["output"]}
        else:
            visible = {**self._visible(state, node), node.name: entry["output"]}
            try:
                task_input = references.resolve(step.input, self._params(state, node), visible)
            except references.ReferenceMissing as exc:
                # Checked at compile time against the graph; only a key path into
                # an output can be missing. The undo then fails as it would at run time.
                task_input, activity = {"error": str(exc)}, INJECTED_ERROR
        out.append(
            ScheduleTask(
                task_id=task_id,
                name=node.path if side == "do" else f"undo {node.path}",
                action=activity,
                input=task_input,
                delay=delay,
                meta={"saga": side, "node": node.path, "attempt": entry["attempt"]},
                retry=KERNEL_RETRY,
                timeout=step.timeout,
            )
        )

    def schedule_undo(self, state: dict[str, Any], node: GraphNode, out: list[Command]) -> None:
        """Schedule the undo of ``node`` now (an operator's retry)."""
        self._schedule(state, node, "undo", 0.0, out)

    # --- results -----------------------------------------------------------------------------

    def _completed(self, state: dict[str, Any], event: TaskCompleted, out: list[Command]) -> None:
        found = state["tasks"].pop(event.task_id, None)
        if found is None:
            return  # withdrawn, or from before a restart of this side: not ours now
        index, side = found
        node = self.graph.nodes[index]
        entry = state["nodes"][index]
        entry["task"] = None
        ok = event.status == "succeeded"
        if ok:
            entry["repeat"] -= 1
            if entry["repeat"] > 0 and state["status"] not in FINAL:
                entry["attempt"] = 0
                self._schedule(state, node, side, 0.0, out)
                return
        error = _error_of(event, node, side)
        if side == "do":
            if ok:
                entry["state"], entry["output"], entry["error"] = "done", event.result, None
            else:
                step = node.do
                assert step is not None
                if state["status"] == "running" and _retries(step.retry, entry, error):
                    entry["error"] = error
                    delay = step.retry.delay(entry["attempt"]) if step.retry else 0.0
                    self._schedule(state, node, side, delay, out)
                    return
                entry["state"], entry["error"] = "failed", error
                if state["status"] == "running":
                    self._begin_unwinding(state, {"failed": index}, out)
                    return
        else:
            if ok:
                entry["state"], entry["error"] = "undone", None
                state["undone"].append(index)
            else:
                step = node.undo
                assert step is not None
                policy = step.retry or DEFAULT_UNDO_RETRY
                if not self._any_stuck(state) and _retries(policy, entry, error):
                    entry["error"] = error
                    self._schedule(state, node, side, policy.delay(entry["attempt"]), out)
                    return
                entry["state"], entry["error"] = "stuck", error
        self.proceed(state, out)

    def proceed(self, state: dict[str, Any], out: list[Command]) -> None:
        """Go on in the saga's direction after a node changed."""
        if state["status"] == "running":
            self.advance(state, out)
        elif state["status"] == "unwinding":
            self.unwind(state, out)

    # --- unwinding ---------------------------------------------------------------------------

    def _begin_unwinding(
        self, state: dict[str, Any], cause: dict[str, Any], out: list[Command]
    ) -> None:
        state["cause"] = cause
        self.set_status(state, "unwinding", out)
        self.unwind(state, out)

    def unwind(self, state: dict[str, Any], out: list[Command]) -> None:
        """Undo every node whose children are all undone, latest first; finish when
        all are; stop at a stuck undo once nothing is in flight."""
        nodes = state["nodes"]
        if self._any_stuck(state):
            if not state["tasks"]:
                self.set_status(state, "stuck", out)
            return
        changed = True
        while changed:
            changed = False
            for node in reversed(self.graph.nodes):
                entry = nodes[node.index]
                if entry["state"] not in ("pending", "done"):
                    continue
                if not all(
                    nodes[c]["state"] in SETTLED_BACKWARD for c in self.graph.children[node.index]
                ):
                    continue
                if entry["state"] == "pending":
                    entry["state"] = "abandoned"
                elif node.kind == ACTION and node.undo is not None:
                    if not self._room(state):
                        return
                    fault = state["faults"].get(node.path, {})
                    entry["state"], entry["attempt"] = "undoing", 0
                    entry["repeat"] = int(fault.get("undo_repeat", 1))
                    self._schedule(state, node, "undo", 0.0, out)
                else:
                    entry["state"] = "undone"
                    state["undone"].append(node.index)
                changed = True
        if all(entry["state"] in SETTLED_BACKWARD for entry in nodes):
            cause = state["cause"] or {}
            if "failed" in cause:
                failed = min(i for i, entry in enumerate(nodes) if entry["state"] == "failed")
                state["errors"] = [nodes[failed]["error"]]
                self._finish(state, "failed", out)
            else:
                state["errors"] = [cause.get("error")] if cause.get("error") else []
                self._finish(state, "canceled", out)

    def _cancel(self, state: dict[str, Any], out: list[Command]) -> None:
        status = state["status"]
        if status == "running":
            error = {"type": "saga.canceled", "message": "canceled: the saga was unwound"}
            self._begin_unwinding(state, {"canceled": True, "error": error}, out)
        elif status == "requested":
            self._finish(state, "canceled", out)
        elif status in FINAL:
            out.append(_refusal("cancel", f"the saga is over: it {status}"))
        else:
            out.append(
                _refusal(
                    "cancel",
                    f"the saga is already {status}; use the operator requests "
                    "retry-undo, mark-undone or abandon",
                )
            )

    # --- helpers -----------------------------------------------------------------------------

    def _room(self, state: dict[str, Any]) -> bool:
        limit = self.graph.max_parallel
        return limit is None or len(state["tasks"]) < limit

    def _any_stuck(self, state: dict[str, Any]) -> bool:
        return any(entry["state"] == "stuck" for entry in state["nodes"])

    def _params(self, state: dict[str, Any], node: GraphNode) -> JSON:
        if node.scope < 0:
            return state["params"]
        return state["nodes"][node.scope]["output"]

    def _visible(self, state: dict[str, Any], node: GraphNode) -> dict[str, JSON]:
        nodes = state["nodes"]
        return {name: nodes[i]["output"] for name, i in node.visible.items() if i >= 0}

    def _trivial_output(self, state: dict[str, Any], node: GraphNode) -> JSON:
        if node.kind == CONSTANT:
            return node.value
        if node.kind == SUBSAGA_START:
            if node.params_from is None:
                return self._params(state, node)
            return state["nodes"][node.params_from]["output"]
        if node.kind == SUBSAGA_END:
            return state["nodes"][node.parents[0]]["output"]
        return None

    def _output(self, state: dict[str, Any]) -> JSON:
        last = self.graph.nodes[self.graph.end].parents[0]
        return state["nodes"][last]["output"]

    def set_status(self, state: dict[str, Any], status: str, out: list[Command]) -> None:
        """Move to a non-final status (recorded once per change)."""
        if state["status"] != status:
            state["status"] = status
            out.append(SetStatus(status))

    def _finish(self, state: dict[str, Any], status: str, out: list[Command]) -> None:
        state["status"] = status
        output = self._output(state) if status == "succeeded" else None
        out.append(CompleteExecution(status, output=output, errors=list(state["errors"])))

    def finish(self, state: dict[str, Any], status: str, out: list[Command]) -> None:
        """End the saga with ``status`` (for operator requests)."""
        self._finish(state, status, out)


def _new_node() -> dict[str, Any]:
    return {
        "state": "pending",
        "input": None,
        "output": None,
        "error": None,
        "runs": 0,
        "attempt": 0,
        "repeat": 1,
        "task": None,
    }


def _error_of(event: TaskCompleted, node: GraphNode, side: str) -> dict[str, JSON]:
    given = event.error if isinstance(event.error, dict) else {}
    what = "action" if side == "do" else "undo"
    message = str(given.get("message") or f"the task {event.status}")
    return {
        "type": str(given.get("type") or event.status),
        "message": f"the {what} of {node.path!r} failed: {message}",
        "non_retryable": bool(given.get("non_retryable", False)),
        "node": node.path,
    }


def _retries(policy: RetryPolicy | None, entry: dict[str, Any], error: dict[str, JSON]) -> bool:
    if policy is None:
        return False
    return policy.should_retry(entry["attempt"], str(error["type"]), bool(error["non_retryable"]))


def _refusal(request: str, message: str) -> RejectRequest:
    return RejectRequest(request, {"kind": "operation.refused", "message": message})
