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
  ``input`` is the ``Payload``), the activity ARN (``queue`` is the
  ARN and ``external=True``: outside workers poll it) or the resource ARN; ``meta`` holds ``state``,
  ``thread`` and ``token``.
* **Task tokens.** ``$$.Task.Token`` of a ``.waitForTaskToken`` task is
  ``cadenza.model.tokens.callback_token(execution_id, task_id)``; the engine's
  ``ExternalTasks.succeed/fail`` turn an answer into
  ``TaskCompleted(task_id=...)``. Activity workers get their own token from
  ``ExternalTasks.poll``, which also delivers ``TaskStarted(task_id, worker)``.
* **Context** (``ExecutionStarted.context``, all optional): ``state_machine_name``,
  ``state_machine_arn``, ``execution_name``, ``execution_arn``, ``role_arn``,
  ``unavailable_resources`` (activity/resource ARNs the engine knows do not
  exist: a Task naming one fails with ``States.Runtime`` before scheduling),
  ``machine_type`` (``EXPRESS`` gives the execution ARN Express's shape),
  ``mocked_responses`` (a mock configuration's test case, see
  :mod:`cadenza.interpreters.states.mocks`), ``secret_results`` (state name ->
  secret path texts of its task's result: each ``ScheduleTask`` of the state
  carries them as ``meta["secret_result"]``, see :mod:`cadenza.model.secrets`).
  :meth:`StatesFrontEnd.start_settings` builds it from ``cadenza run`` options.
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

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

import yaml

from cadenza.interpreters.protocol import (
    ActionUse,
    FrontEndSettings,
    HistoryView,
    PendingTask,
    Recognition,
    RerunRequest,
    SnapshotPolicy,
    StartSettings,
    TaskAnswer,
)
from cadenza.model.definitions import CodeReference, DefinitionSource
from cadenza.model.errors import DefinitionError, DefinitionLoadError, InputError, Problem
from cadenza.model.events import JSON, RecordedEvent, RerunRequested, TaskCompleted
from cadenza.model.secrets import SECRET_RESULTS, declared_results
from cadenza.model.statuses import FINAL_EXECUTION_STATUSES
from cadenza.model.yaml_documents import safe_load_bounded

if TYPE_CHECKING:
    from collections.abc import Sequence

    from cadenza.interpreters.states.interpreter import StatesInterpreter

__all__ = ["AWS_PAYLOAD_LIMIT", "DEFAULT_ROLE_ARN", "StartSettings", "StatesFrontEnd", "create"]


#: Step Functions' limit on a state's input, output or a task result (bytes).
AWS_PAYLOAD_LIMIT = 256 * 1024

#: The role an execution runs as when none is given (the HTTP API reports the same).
DEFAULT_ROLE_ARN = "arn:aws:iam::111111111111:role/cadenza"

#: What Step Functions refuses in an execution name: whitespace, brackets,
#: wildcards, special characters and control characters.
_BAD_NAME = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")


class StatesFrontEnd:
    """Compiles Amazon States Language JSON into interpreters (``FrontEnd`` protocol)."""

    kind = "states"
    suffixes: tuple[str, ...] = (".asl.json", ".asl", ".asl.yaml", ".asl.yml")
    #: A state machine's input may be any JSON value, not only an object.
    input_must_be_object = False
    final_statuses: frozenset[str] = FINAL_EXECUTION_STATUSES
    #: A state machine never waits for an operator: activities and task tokens
    #: are answered by workers, and a running execution cannot be paused.
    waiting_statuses: frozenset[str] = frozenset()
    snapshots = SnapshotPolicy()
    #: The ``cadenza run`` options a state machine's execution takes (name -> help).
    start_options: Mapping[str, str] = {
        "name": "the execution's name (as StartExecution's name; its id becomes MACHINE:NAME)",
        "type": "STANDARD (the default) or EXPRESS: checks the definition as that type and "
        "gives the execution ARN its shape",
        "role_arn": f"$$.Execution.RoleArn (default {DEFAULT_ROLE_ARN})",
        "mock_config": "a Step Functions Local mock configuration (MockConfigFile.json)",
        "test_case": "the test case of --mock-config whose mocked responses to use",
        "secret_result": "secret paths of named states' results (JSON: state -> paths)",
    }

    def __init__(self, machine_type: str = "STANDARD", payload_limit: int | None = None) -> None:
        self.machine_type = machine_type
        #: ``AWS_PAYLOAD_LIMIT`` for AWS-compatible limits; None (the default)
        #: lets payloads be as large as the store allows.
        self.payload_limit = payload_limit

    def recognize(self, source: DefinitionSource) -> Recognition:
        """Sure for a JSON object with ``StartAt`` or ``States``, even a broken one,
        and for YAML whose top level has both (the AWS Toolkit's ``.asl.yaml``)."""
        if isinstance(source, CodeReference):
            return Recognition.NO
        text = source.lstrip()
        if not text.startswith("{"):
            yaml_machine = _TOP_LEVEL_START_AT.search(text) and _TOP_LEVEL_STATES.search(text)
            return Recognition.YES if yaml_machine else Recognition.NO
        try:
            document = json.loads(text)
        except ValueError:
            # Broken JSON: say yes if it looks like a state machine, so its author
            # gets the JSON error with a line number rather than "unknown kind".
            return Recognition.YES if '"StartAt"' in text else Recognition.POSSIBLY
        if isinstance(document, dict) and ("StartAt" in document or "States" in document):
            return Recognition.YES
        return Recognition.NO

    def compile(self, source: DefinitionSource, *, origin: str | None = None) -> StatesInterpreter:
        """Parse, check and compile ``source``; raises ``DefinitionError`` if invalid."""
        if isinstance(source, CodeReference):
            raise InputError(
                f"a state machine is JSON text, not Python code ({source})", kind=self.kind
            )
        # Imported here: detection loads every front end, and a process that
        # never compiles a state machine should not pay for JSONata and JSONPath.
        from cadenza.interpreters.states.definition import Definition
        from cadenza.interpreters.states.interpreter import StatesInterpreter
        from cadenza.interpreters.states.tasks import classify
        from cadenza.interpreters.states.validation import validate_definition

        checked = validate_definition(
            _document_of(source, origin), machine_type=self.machine_type, origin=origin
        )
        definition = Definition(dict(checked.document), self.payload_limit)
        uses = [
            ActionUse(resource, path, must_exist=False)
            for resource, path in definition.resources()
            if classify(resource)["kind"] in ("lambda", "activity")
        ]
        return StatesInterpreter(definition, uses)

    def warnings(self, source: DefinitionSource) -> list[Problem]:
        """Likely mistakes in a valid definition, where Step Functions warns
        (``NO_DOLLAR``, ``NO_PATH``, ``PASS_RESULT_IS_STATIC``); never raises."""
        if isinstance(source, CodeReference):
            return []
        from cadenza.interpreters.states.validation import definition_warnings

        try:
            document = _document_of(source, None)
        except DefinitionError:
            return []  # compile reports it
        return definition_warnings(document, self.machine_type)

    def start_settings(
        self,
        options: Mapping[str, str],
        *,
        definition_name: str,
        source: str,
        origin: str | None = None,
    ) -> StartSettings:
        """The start context of an execution run with ``options`` (see
        :attr:`start_options`); ``InputError`` or ``DefinitionError`` for options
        that do not fit the definition."""
        unknown = sorted(set(options) - set(self.start_options))
        if unknown:
            raise InputError(f"a state machine's execution takes no option {', '.join(unknown)}")
        context: dict[str, JSON] = {"role_arn": options.get("role_arn") or DEFAULT_ROLE_ARN}
        execution_id = None
        name = options.get("name")
        if name is not None:
            if not 1 <= len(name) <= 80 or _BAD_NAME.search(name):
                raise InputError(
                    f"invalid execution name {name!r}: 1 to 80 characters, without "
                    'whitespace, brackets, wildcards or any of " # % \\ ^ | ~ ` $ & , ; : /'
                )
            context["execution_name"] = name
            execution_id = f"{definition_name}:{name}"
        machine_type = (options.get("type") or "STANDARD").upper()
        if machine_type not in ("STANDARD", "EXPRESS"):
            raise InputError(f"--type must be STANDARD or EXPRESS, not {options.get('type')!r}")
        if machine_type == "EXPRESS":
            from cadenza.interpreters.states.validation import validate_definition

            validate_definition(source, machine_type="EXPRESS", origin=origin)
            context["machine_type"] = "EXPRESS"
        mock_file, test_case = options.get("mock_config"), options.get("test_case")
        if (mock_file is None) != (test_case is None):
            raise InputError("--mock-config and --test-case go together: give both")
        if mock_file is not None and test_case is not None:
            from cadenza.interpreters.states.mocks import MockConfig

            config = MockConfig.read(mock_file)
            # A file's stem keeps ``.asl`` of ``name.asl.json``: try the bare name too.
            names = [definition_name, definition_name.removesuffix(".asl")]
            machine = next((n for n in names if n in config.state_machines), None)
            case = config.test_case(test_case, machine)
            context.update(case.context())
        declared = options.get("secret_result")
        if declared is not None:
            try:
                given = json.loads(declared)
            except ValueError as exc:
                raise InputError(f"secret results are not JSON: {exc}") from None
            states = _state_names(_document_of(source, origin))
            context[SECRET_RESULTS] = declared_results(given, states)
        return StartSettings(context, execution_id)

    def rerun_event(self, request: RerunRequest) -> RerunRequested:
        """A redrive: a state machine restarts from the states that failed, never
        from a state chosen by name, and takes no options."""
        if request.steps:
            raise InputError(
                "a state machine is redriven from the states that failed; it cannot be "
                f"rerun from named states ({', '.join(request.steps)})"
            )
        if request.options:
            raise InputError(
                f"a redrive takes no options (got {', '.join(sorted(request.options))})"
            )
        return RerunRequested(tasks=[])

    def answer(self, task: PendingTask, answer: TaskAnswer) -> TaskCompleted:
        """A waiting task ends with the answer as its result (or as its failure)."""
        if answer.failed:
            return TaskCompleted(
                task_id=task.task_id,
                status="failed",
                result=answer.result,
                error={"type": "States.TaskFailed", "message": "failed by response"},
                attempt=task.attempt,
            )
        return TaskCompleted(
            task_id=task.task_id, status="succeeded", result=answer.result, attempt=task.attempt
        )

    def history_views(self) -> Mapping[str, HistoryView]:
        """``sfn``: the history as Step Functions' GetExecutionHistory returns it."""
        return {"sfn": _sfn_view}


def _sfn_view(history: Sequence[RecordedEvent]) -> list[dict[str, object]]:
    from cadenza.interpreters.states.history import sfn_history

    return sfn_history(history)


def create(settings: FrontEndSettings) -> StatesFrontEnd:
    """The ``cadenza.front_ends`` entry point; ``settings.service_limits`` applies
    Step Functions' 256 KiB payload limit."""
    return StatesFrontEnd(payload_limit=AWS_PAYLOAD_LIMIT if settings.service_limits else None)


#: A YAML state machine's top-level keys (at the start of a line, not indented).
_TOP_LEVEL_START_AT = re.compile(r"^StartAt\s*:", re.MULTILINE)
_TOP_LEVEL_STATES = re.compile(r"^States\s*:", re.MULTILINE)


def _state_names(document: str | Mapping[str, JSON]) -> set[str]:
    """Every state's name, in Parallel branches and Map processors too."""
    names: set[str] = set()
    bodies = [json.loads(document) if isinstance(document, str) else document]
    while bodies:
        body = bodies.pop()
        states = body.get("States") if isinstance(body, Mapping) else None
        if not isinstance(states, Mapping):
            continue
        for name, state in states.items():
            names.add(name)
            if isinstance(state, Mapping):
                branches = state.get("Branches")
                bodies += branches if isinstance(branches, list) else []
                bodies += [state.get("ItemProcessor"), state.get("Iterator")]
    return names


def _document_of(source: str, origin: str | None) -> str | Mapping[str, JSON]:
    """JSON text as it is (validation keeps its lines), or the mapping a YAML
    state machine reads as (its problems are named by path, without lines)."""
    if source.lstrip().startswith("{"):
        return source
    try:
        document = safe_load_bounded(source)
    except yaml.YAMLError as exc:
        problem = Problem("", f"The state machine is neither JSON nor valid YAML: {exc}")
        raise DefinitionLoadError(problems=[problem], source=origin) from exc
    if not isinstance(document, dict):
        problem = Problem("", "A state machine is a JSON object (or a YAML mapping).")
        raise DefinitionLoadError(problems=[problem], source=origin)
    # Through JSON, so YAML's own types (dates, sets) are refused as AWS would.
    try:
        as_json: dict[str, JSON] = json.loads(json.dumps(document))
    except (TypeError, ValueError) as exc:
        problem = Problem("", f"The state machine holds a value JSON cannot: {exc}")
        raise DefinitionLoadError(problems=[problem], source=origin) from exc
    return as_json
