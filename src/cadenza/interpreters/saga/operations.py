"""What an operator may ask of a saga that cannot go on by itself.

* ``retry-undo`` (``args.node`` optional): run the stuck undo again, from a
  fresh count of attempts; the saga goes back to unwinding. An injected undo
  error (a test's fault) is not injected again: the operator "fixed" it.
* ``mark-undone`` (``args.node`` optional, a reason required): the operator
  reverted the node by hand; the saga carries on unwinding past it. Allowed
  for a stuck node, and for one whose undo is still being retried (that
  task is withdrawn).
* ``abandon``: stop here; outstanding tasks are withdrawn, and the saga ends
  ``abandoned`` with what was left undone in its errors.

Each request is recorded in history as ``OperatorRequested`` with who asked
and why; what it did is recorded as a ``saga.operator`` marker, and a request
that does not fit the saga's state is refused with ``RequestRejected``.
"""

from __future__ import annotations

from typing import Any, Protocol

from cadenza.model.commands import CancelTask, Command, RecordMarker, RejectRequest
from cadenza.model.events import JSON, OperatorRequested

from .graph import GraphNode, SagaGraph
from .names import OPERATOR_REQUESTS as OPERATOR_REQUESTS


class SagaInterpreter(Protocol):
    """What an operator request needs of the saga's interpreter (described here,
    not imported, so that the interpreter can use this module)."""

    graph: SagaGraph

    def schedule_undo(self, state: dict[str, Any], node: GraphNode, out: list[Command]) -> None:
        """Schedule the undo of ``node``."""

    def unwind(self, state: dict[str, Any], out: list[Command]) -> None:
        """Go on unwinding."""

    def set_status(self, state: dict[str, Any], status: str, out: list[Command]) -> None:
        """Move to a non-final status."""

    def finish(self, state: dict[str, Any], status: str, out: list[Command]) -> None:
        """End the saga in ``status``."""

    def stuck_errors(self, state: dict[str, Any]) -> list[JSON]:
        """The errors of the stuck nodes."""


def apply_operator_request(
    interpreter: SagaInterpreter,
    state: dict[str, Any],
    event: OperatorRequested,
    out: list[Command],
) -> None:
    """Carry out ``event`` on ``state``, or refuse it."""
    status = state["status"]
    if status in ("succeeded", "failed", "canceled", "abandoned", "requested"):
        _refuse(event, f"the saga is {status}: there is nothing to {event.request}", out)
    elif event.request == "abandon":
        _abandon(interpreter, state, event, out)
    elif event.request in ("retry-undo", "mark-undone"):
        _repair(interpreter, state, event, out)
    else:
        _refuse(event, f"a saga takes no request {event.request!r}", out)


def _repair(
    interpreter: SagaInterpreter,
    state: dict[str, Any],
    event: OperatorRequested,
    out: list[Command],
) -> None:
    marking = event.request == "mark-undone"
    allowed = ("stuck", "undoing") if marking else ("stuck",)
    candidates = [
        node for node in interpreter.graph.nodes if state["nodes"][node.index]["state"] in allowed
    ]
    wanted = event.args.get("node")
    if wanted is not None:
        targets = [node for node in candidates if node.path == wanted]
        if not targets:
            names = ", ".join(n.path for n in candidates) or "none"
            _refuse(
                event,
                f"{wanted!r} is not a node whose undo is {' or '.join(allowed)} "
                f"(these are: {names})",
                out,
            )
            return
    elif len(candidates) == 1 or (candidates and not marking):
        targets = candidates if not marking else candidates[:1]
    elif not candidates:
        _refuse(event, f"no node's undo is {' or '.join(allowed)}", out)
        return
    else:
        names = ", ".join(n.path for n in candidates)
        _refuse(event, f"several nodes could be meant ({names}): name one in args.node", out)
        return
    reason = event.reason or str(event.args.get("reason") or "")
    if marking and not reason.strip():
        _refuse(event, "mark-undone needs a reason (a justification recorded in history)", out)
        return
    for node in targets:
        entry = state["nodes"][node.index]
        if marking:
            if entry["task"] is not None:
                state["tasks"].pop(entry["task"], None)
                out.append(CancelTask(entry["task"]))
                entry["task"] = None
            entry["state"] = "undone"
            entry["by_hand"] = {"by": event.by, "reason": reason}
            state["undone"].append(node.index)
        else:
            fault = state["faults"].get(node.path)
            if fault is not None:
                fault["undo_error"] = False
            entry["state"], entry["attempt"], entry["repeat"] = "undoing", 0, 1
            interpreter.schedule_undo(state, node, out)
    out.append(
        RecordMarker(
            "saga.operator",
            {
                "request": event.request,
                "nodes": [node.path for node in targets],
                "by": event.by,
                "reason": reason,
            },
        )
    )
    interpreter.set_status(state, "unwinding", out)
    interpreter.unwind(state, out)


def _abandon(
    interpreter: SagaInterpreter,
    state: dict[str, Any],
    event: OperatorRequested,
    out: list[Command],
) -> None:
    for task_id in sorted(state["tasks"]):
        out.append(CancelTask(task_id))
        index = state["tasks"][task_id][0]
        state["nodes"][index]["task"] = None
    state["tasks"] = {}
    left: list[JSON] = [
        node.path
        for node in interpreter.graph.nodes
        if state["nodes"][node.index]["state"] in ("done", "running", "undoing", "stuck")
        and node.kind == "action"
    ]
    abandoned = {
        "type": "saga.abandoned",
        "message": f"abandoned by {event.by or 'an operator'}"
        + (f": {event.reason}" if event.reason else ""),
        "by": event.by,
        "reason": event.reason,
        "not_undone": left,
    }
    state["errors"] = [*state["errors"], *interpreter.stuck_errors(state), abandoned]
    out.append(
        RecordMarker(
            "saga.operator",
            {"request": "abandon", "nodes": left, "by": event.by, "reason": event.reason},
        )
    )
    interpreter.finish(state, "abandoned", out)


def _refuse(event: OperatorRequested, message: str, out: list[Command]) -> None:
    out.append(RejectRequest(event.request, {"kind": "operation.refused", "message": message}))
