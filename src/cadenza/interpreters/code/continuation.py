"""Continue-as-new: a run ends and a new run of the same workflow starts with new input.

A long-lived workflow (a loop over months, a subscription) would otherwise
grow one history without end. ``self.continue_as_new(...)`` ends the run
instead, in one decision that

* starts the next run as a **detached child** (``StartChild(detached=True)``)
  of the definition's name (so the newest registered version runs next),
  with the new input and an id derived from this run and decision
  (:func:`cadenza.model.ids.continued_run_id`);
* records ``MarkerRecorded(kind="code.continued_as_new", details={"execution_id":
  <next run>})``;
* completes this run as ``succeeded`` with output ``{"continued_as_new": <next run>}``.

Because the engine applies a decision's commands in one transaction, there is
never a moment with no run, nor two open runs of the chain. The next run's
``ExecutionStarted.meta["parent"]`` names the run it continues (with
``"continued": true``), so ``cadenza status`` shows the link both ways: the
old run lists the new one among its children, the new one says who started
it. A workflow id travels along the chain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cadenza.model.commands import Command, RecordMarker, StartChild
from cadenza.model.events import JSON
from cadenza.model.ids import continued_run_id

#: The marker kind naming the run a run continued as.
CONTINUED_MARKER = "code.continued_as_new"
#: The task id of the next run in the ending run's history.
CONTINUATION_TASK = "continue-as-new"
#: The output key of a run that continued as new.
CONTINUED_OUTPUT = "continued_as_new"


class ContinueAsNew(BaseException):
    """Raised by ``continue_as_new`` to end the run's code at once.

    A ``BaseException`` so that the workflow's own ``except Exception`` does
    not swallow it.
    """

    def __init__(self, input: JSON) -> None:
        super().__init__("continue as new")
        self.input = input


@dataclass(frozen=True)
class Continued:
    """The code asked to continue as a new run with ``input``."""

    input: JSON


def continuation_commands(
    meta: Mapping[str, JSON], decision: int, workflow_id: str | None, new_input: JSON
) -> tuple[str, list[Command]]:
    """The next run's id, and the commands that start it and record the link
    (the interpreter adds the ones that end this run). ``meta`` is this run's
    ``ExecutionStarted.meta``; ``decision`` the interpreter's decision count."""
    execution_id = str(meta.get("execution_id", ""))
    next_id = continued_run_id(execution_id, decision, workflow_id)
    definition = str(meta.get("definition_name") or meta.get("definition_id"))
    link: dict[str, JSON] = {"continued": True}
    if workflow_id is not None:
        link["workflow_id"] = workflow_id
    start = StartChild(
        task_id=CONTINUATION_TASK,
        name=definition,
        definition=definition,
        input=new_input,
        meta=link,
        execution_id=next_id,
        detached=True,
    )
    return next_id, [start, RecordMarker(kind=CONTINUED_MARKER, details={"execution_id": next_id})]
