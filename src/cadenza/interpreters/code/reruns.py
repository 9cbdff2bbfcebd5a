"""What a ``RerunRequested`` asks of a finished code execution, checked.

A rerun runs the code again from its start against history: the chosen
tasks, and every task issued after the first of them (by default, the tasks
that did not succeed), get new ids so that the code issues them again; every
other task's recorded outcome is reused. A chosen activity may come with a
new input (``NEW_INPUT``), which it runs with instead of the arguments the
code passes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from cadenza.interpreters.code.names import NEW_INPUT as NEW_INPUT
from cadenza.interpreters.code.runtime import Runtime
from cadenza.interpreters.code.workflow import input_arguments
from cadenza.model.events import JSON, RerunRequested


@dataclass(frozen=True)
class RerunPlan:
    """The tasks to run again (old ids, in issue order), and new activity inputs
    (``{"args", "kwargs"}`` by old id)."""

    targets: list[str]
    new_inputs: dict[str, JSON]


def rerun_plan(runtime: Runtime, event: RerunRequested) -> RerunPlan | str:
    """The plan for ``event``, or why it cannot be carried out."""
    live = [
        i.task_id
        for i in runtime.issued.values()
        if i.kind in ("activity", "child", "timer") and i.task_id not in runtime.superseded
    ]
    chosen = [str(t.get("task_id")) for t in event.tasks if isinstance(t, dict)]
    unknown = [c for c in chosen if c not in live]
    if unknown:
        return (
            f"this execution has no task {unknown[0]!r} to rerun "
            f"(its tasks: {', '.join(live) or 'none'})"
        )
    new_inputs: dict[str, JSON] = {}
    for asked in event.tasks:
        if not isinstance(asked, dict) or NEW_INPUT not in asked:
            continue
        task_id = str(asked.get("task_id"))
        kind = runtime.issued[task_id].kind
        if kind != "activity":
            return f"only an activity reruns with new input; {task_id!r} is a {kind}"
        args, kwargs = input_arguments(asked[NEW_INPUT])
        new_inputs[task_id] = {"args": args, "kwargs": kwargs}
    if chosen:
        targets = live[min(live.index(c) for c in chosen) :]
    else:
        targets = [
            t for t in live if t in runtime.outcomes and runtime.outcomes[t].status != "succeeded"
        ]
    return RerunPlan(targets, new_inputs)
