"""What a saga's state shows a person: every node's status, and why it is stuck.

``cadenza status`` and the API show one task per node (subsaga boundaries
as one ``subsaga`` entry; start and end are not shown) with its status
(``pending``, ``running``, ``done``, ``failed``, ``undoing``, ``undone``,
``stuck``, ``abandoned``) and, as its result: the action's output once done;
the error, and for an undo what it was undoing, while it fails; who marked it
undone and why.
"""

from __future__ import annotations

from typing import Any

from cadenza.interpreters.protocol import ExecutionView, TaskView
from cadenza.model.events import JSON

from .graph import ACTION, CONSTANT, END, START, SUBSAGA_START, GraphNode, SagaGraph


def execution_view(graph: SagaGraph, state: dict[str, Any], *, final: bool) -> ExecutionView:
    """The execution as the CLI and API show it; a saga that is not over lists
    its stuck undos among its errors."""
    tasks = [
        TaskView(
            name=node.path,
            status=state["nodes"][node.index]["state"],
            key={ACTION: "", CONSTANT: "constant"}.get(node.kind, "subsaga"),
            result=_shown(node, state["nodes"][node.index]),
        )
        for node in graph.nodes
        if node.kind not in (START, END, SUBSAGA_START)
    ]
    status = state["status"]
    output = None
    if status == "succeeded":
        output = state["nodes"][graph.nodes[graph.end].parents[0]]["output"]
    errors = list(state["errors"]) + ([] if final else stuck_errors(graph, state))
    return ExecutionView(status=status, output=output, errors=errors, tasks=tasks)


def stuck_errors(graph: SagaGraph, state: dict[str, Any]) -> list[JSON]:
    """One error per node whose undo is stuck: the node, its error, what it undid."""
    found: list[JSON] = []
    for node in graph.nodes:
        entry = state["nodes"][node.index]
        if entry["state"] == "stuck" and node.undo is not None:
            found.append(
                {
                    "type": "saga.stuck",
                    "message": f"the undo of {node.path!r} failed; an operator must act "
                    "(retry-undo, mark-undone or abandon)",
                    "node": node.path,
                    "error": entry["error"],
                    "undoing": {"activity": node.undo.activity, "output": entry["output"]},
                }
            )
    return found


def _shown(node: GraphNode, entry: dict[str, Any]) -> JSON:
    if entry.get("by_hand"):
        return {"marked_undone": entry["by_hand"]}
    if entry["state"] in ("done", "undone") and entry["output"] is not None:
        return entry["output"]
    if entry["state"] in ("failed", "stuck", "undoing", "running") and entry["error"]:
        shown: dict[str, JSON] = {"error": entry["error"]}
        if entry["state"] in ("stuck", "undoing") and node.undo is not None:
            shown["undoing"] = {
                "activity": node.undo.activity,
                "output": entry["output"],
                "attempt": entry["attempt"],
            }
        return shown
    return None
