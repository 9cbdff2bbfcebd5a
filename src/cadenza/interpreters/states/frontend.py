"""The States (Amazon States Language) front end: JSON text in, :class:`StatesInterpreter` out.

``StatesFrontEnd().compile(source)`` validates the definition with
:mod:`cadenza.interpreters.states.validation` (raising ``DefinitionError`` with
AWS's InvalidDefinition text) and returns an interpreter.

Engine contract of the interpreter:

* **Tasks.** ``ScheduleTask(task_id, name=<state name>, action, input, queue,
  heartbeat_timeout, meta)``: ``task_id`` is ``"<thread>.<state>.<n>"``
  (``thread`` is ``root`` or ``t<n>`` for a branch/iteration, ``n`` a counter
  unique in the execution); ``action`` is the Lambda function ARN (for a
  function-ARN resource, or the ``FunctionName`` of ``lambda:invoke``, whose
  ``input`` is the ``Payload``), the activity ARN (``queue`` is
  ``"activity:<arn>"``) or the resource ARN; ``meta`` holds ``state``,
  ``thread`` and ``token``.
* **Task tokens.** ``$$.Task.Token`` of a ``.waitForTaskToken`` task is
  ``cadenza.model.tokens.callback_token(execution_id, task_id)``; the engine's
  ``ExternalTasks.succeed/fail`` turn an answer into
  ``TaskCompleted(task_id=...)``. Activity workers get their own token from
  ``ExternalTasks.poll``, which also delivers ``TaskStarted(task_id, worker)``.
* **Context** (``ExecutionStarted.context``, all optional): ``state_machine_name``,
  ``state_machine_arn``, ``execution_name``, ``execution_arn``, ``role_arn``,
  ``unavailable_resources`` (activity/resource ARNs the engine knows do not
  exist: a Task naming one fails with ``States.Runtime`` before scheduling).
  Defaults: the definition name from ``meta["definition_name"]``, the execution
  id as its name, ARNs in us-east-1 / account 111111111111. ``meta["start_time"]``
  (epoch seconds) is ``$$.Execution.StartTime``.
* **Timers** ``StartTimer(timer_id, delay)`` for Wait, retry intervals, task and
  execution ``TimeoutSeconds``; stale firings are ignored.
* **Final status** ``CompleteExecution``: succeeded/failed/timeout/canceled
  (AWS: SUCCEEDED/FAILED/TIMED_OUT/ABORTED), ``errors=[{"error", "cause"}]``.
* **History** ``RecordMarker(kind="sfn")`` per Step Functions event; see
  :func:`cadenza.interpreters.states.history.sfn_history`.
"""

from __future__ import annotations

from cadenza.interpreters.protocol import ActionUse
from cadenza.interpreters.states.definition import Definition
from cadenza.interpreters.states.interpreter import StatesInterpreter
from cadenza.interpreters.states.tasks import classify
from cadenza.interpreters.states.validation import validate_definition

__all__ = ["StatesFrontEnd"]


#: Step Functions' limit on a state's input, output or a task result (bytes).
AWS_PAYLOAD_LIMIT = 256 * 1024


class StatesFrontEnd:
    """Compiles Amazon States Language JSON into interpreters (``FrontEnd`` protocol)."""

    kind = "states"

    #: A state machine's input may be any JSON value, not only an object.
    input_must_be_object = False

    def __init__(self, machine_type: str = "STANDARD", payload_limit: int | None = None) -> None:
        self.machine_type = machine_type
        #: ``AWS_PAYLOAD_LIMIT`` for AWS-compatible limits; None (the default)
        #: lets payloads be as large as the store allows.
        self.payload_limit = payload_limit

    def compile(self, source: str, *, origin: str | None = None) -> StatesInterpreter:
        """Parse, check and compile ``source``; raises ``DefinitionError`` if invalid."""
        checked = validate_definition(source, machine_type=self.machine_type, origin=origin)
        definition = Definition(dict(checked.document), self.payload_limit)
        uses = [
            ActionUse(resource, path, must_exist=False)
            for resource, path in definition.resources()
            if classify(resource)["kind"] in ("lambda", "activity")
        ]
        return StatesInterpreter(definition, uses)
