"""Workflow ids: a caller's name for a workflow, unique among its open runs.

An execution id names one run. A **workflow id** is the caller's own name
for the work ("order-1234"): at most one open run has it at a time, and it
travels along a continue-as-new chain, so the caller can find the current
run, or signal it, without knowing run ids. ``Engine`` offers these methods:

* :meth:`WorkflowIds.start_workflow` starts a run under a workflow id, and
  refuses (``OperationRefused``, naming the open run) while a run with that
  id is open;
* :meth:`WorkflowIds.signal_with_start` signals the open run with that id,
  or starts one and delivers the signal before its first decision (SWF's and
  Temporal's signal-with-start), so no signal is lost to a race with the start;
* :meth:`WorkflowIds.open_run` finds the open run of a workflow id.

A run of a workflow id has an execution id ``<workflow id>@<unique part>``
(:func:`cadenza.model.ids.run_of_workflow`; a continued run's unique part is
derived from the run it continues). The workflow code reads the id from
``ExecutionStarted.context["workflow_id"]`` (first run) or
``meta["parent"]["workflow_id"]`` (continued run); the store keeps it in the
execution's ``workflow_id`` column under a unique index over the runs that
are not final. So the check and the start are one write: of several callers
starting one id at once, exactly one succeeds and the others are refused
(``WorkflowIdTaken``, an ``OperationRefused``), and a run that continues as
new hands the id to the next run in the transaction that ends it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from cadenza.engine.clock import Clock
from cadenza.model.errors import DefinitionNotFound, InputError, WorkflowIdTaken
from cadenza.model.events import JSON, SignalReceived
from cadenza.model.ids import run_of_workflow
from cadenza.store.protocol import Store
from cadenza.store.records import DefinitionRecord, ExecutionRecord

#: Where a run keeps its workflow id (in ``ExecutionStarted.context``).
WORKFLOW_ID = "workflow_id"


class WorkflowIds:
    """The workflow-id part of ``Engine`` (it provides the store, the clock, the
    wake-up, and the methods declared here)."""

    store: Store
    clock: Clock

    def wake(self) -> None:
        raise NotImplementedError

    def start(
        self,
        definition: DefinitionRecord,
        input: JSON = None,
        *,
        context: Mapping[str, JSON] | None = None,
        execution_id: str | None = None,
    ) -> str:
        raise NotImplementedError

    def signal(self, execution_id: str, name: str, data: JSON = None, *, by: str = "") -> None:
        raise NotImplementedError

    def start_workflow(
        self,
        definition: DefinitionRecord,
        input: JSON = None,
        *,
        workflow_id: str,
    ) -> str:
        """Start a run of ``definition`` under ``workflow_id``; return the run's id
        (``<workflow id>@<uuid>``).

        Refused with ``WorkflowIdTaken`` (an ``OperationRefused``;
        ``details["execution_id"]`` names the open run) while another run with
        this workflow id is open.
        """
        _check_id(workflow_id)
        # The store refuses the start when an open run holds the id (its unique
        # index decides between callers racing on one id).
        return self.start(
            definition,
            input,
            context={WORKFLOW_ID: workflow_id},
            execution_id=run_of_workflow(workflow_id, str(uuid.uuid4())),
        )

    def signal_with_start(
        self,
        definition: DefinitionRecord | str,
        workflow_id: str,
        name: str,
        data: JSON = None,
        *,
        input: JSON = None,
        by: str = "",
    ) -> str:
        """Send the signal ``name`` to the open run of ``workflow_id``, or start a run
        of ``definition`` with ``input`` under that id and deliver the signal with
        its start (the run sees it from its first decision). Return the run's id.

        ``definition`` is a definition, or the id or name (newest version) of a
        registered one.
        """
        _check_id(workflow_id)
        if isinstance(definition, str):
            definition = self.definition_by_reference(definition)
        running = self.open_run(workflow_id, kind=definition.kind)
        if running is not None:
            self.signal(running.id, name, data, by=by)
            return running.id
        try:
            execution_id = self.start_workflow(definition, input, workflow_id=workflow_id)
        except WorkflowIdTaken as taken:
            # Another caller started it a moment ago: signal that run instead.
            holder = taken.details.get("execution_id")
            if not isinstance(holder, str):
                raise
            self.signal(holder, name, data, by=by)
            return holder
        # In the inbox right after ExecutionStarted: both are one decision's inputs.
        self.store.deliver(
            execution_id, [SignalReceived(name=name, data=data, by=by)], self.clock.now()
        )
        self.wake()
        return execution_id

    def definition_by_reference(self, reference: str) -> DefinitionRecord:
        """The definition with id ``reference``, else the newest one registered
        under the name ``reference`` (``DefinitionNotFound`` if neither)."""
        try:
            return self.store.load_definition(reference)
        except DefinitionNotFound:
            named = self.store.list_definitions(name=reference, limit=1)
            if named:
                return named[0]
        raise DefinitionNotFound(
            f"no definition with id or name {reference!r} is registered", reference=reference
        )

    def open_run(self, workflow_id: str, *, kind: str | None = None) -> ExecutionRecord | None:
        """The open (not final) run with ``workflow_id`` (of ``kind`` when given), if any."""
        found = self.store.open_run(workflow_id)
        if found is None or (kind is not None and found.kind != kind):
            return None
        return found


def _check_id(workflow_id: object) -> None:
    if (
        not isinstance(workflow_id, str)
        or not workflow_id.strip()
        or workflow_id != workflow_id.strip()
    ):
        raise InputError(
            f"a workflow id must be non-empty text without spaces around it, not {workflow_id!r}",
            workflow_id=workflow_id,
        )
