"""Run one state with a given input, as Step Functions' TestState does.

The state is put into a small machine of its own: it is the start state, and
every state it may go to (``Next``, ``Default``, each Choice rule's and each
catcher's ``Next``) becomes a ``Succeed`` stub, so the stub entered names the
next state and its input is the tested state's output. The machine runs on the
real interpreter, driven here without an engine: time jumps to each timer, and
each task is answered at once with the given mock (a Task state needs one;
nothing is called). Retry is never carried out, as in TestState: a failure a
retrier would retry is reported ``RETRIABLE``; one a catcher takes runs the
catcher and is reported ``CAUGHT_ERROR``. The data after each JSONPath
processing step is the output of a variant of the state that stops there.

Pure: nothing here reads a clock or does I/O.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from cadenza.interpreters.states.dataflow import dumps
from cadenza.interpreters.states.definition import JSONPATH
from cadenza.interpreters.states.frontend import StatesFrontEnd
from cadenza.interpreters.states.history import MARKER_KIND
from cadenza.interpreters.states.interpreter import StatesInterpreter
from cadenza.interpreters.states.retries import catcher_for, error_matches
from cadenza.model.commands import CompleteExecution, RecordMarker, ScheduleTask, StartTimer
from cadenza.model.errors import InputError
from cadenza.model.events import Event, ExecutionStarted, TaskCompleted, TimerFired

__all__ = ["Mock", "OneStateOutcome", "run_one_state"]

#: The time the test runs at (nothing depends on its value).
_START = 1_700_000_000.0
#: The most decisions one test takes (a Map of many items needs one each).
_MAX_DECISIONS = 10_000
_VARIABLES_STATE = "Cadenza.TestState.Variables"

#: Where a task's call and its result are in history: (event details, field,
#: the inspection field it becomes).
_TASK_FIELDS = (
    ("taskScheduledEventDetails", "parameters", "afterParameters"),
    ("activityScheduledEventDetails", "input", "afterParameters"),
    ("lambdaFunctionScheduledEventDetails", "input", "afterParameters"),
    ("taskSucceededEventDetails", "output", "result"),
    ("activitySucceededEventDetails", "output", "result"),
    ("lambdaFunctionSucceededEventDetails", "output", "result"),
)


@dataclass(frozen=True)
class Mock:
    """What a Task state's call returns: ``result``, or the error it fails with."""

    result: Any = None
    error: str | None = None
    cause: str | None = None

    @property
    def fails(self) -> bool:
        return self.error is not None


@dataclass(frozen=True)
class OneStateOutcome:
    """The end of one state: TestState's answer."""

    #: ``SUCCEEDED``, ``FAILED``, ``RETRIABLE`` or ``CAUGHT_ERROR``.
    status: str
    output: Any = None
    has_output: bool = False
    error: str | None = None
    cause: str | None = None
    next_state: str | None = None
    #: What the state saw and made (TestState's ``inspectionData``), JSON texts.
    inspection: dict[str, Any] = field(default_factory=dict)


def _targets(state: dict[str, Any]) -> list[str]:
    """Every state name the state may go to."""
    found = [state.get("Next"), state.get("Default")]
    found += [rule.get("Next") for rule in state.get("Choices") or [] if isinstance(rule, dict)]
    found += [c.get("Next") for c in state.get("Catch") or [] if isinstance(c, dict)]
    return sorted({name for name in found if isinstance(name, str)})


def _pick_state(
    document: dict[str, Any], state_name: str | None
) -> tuple[str, dict[str, Any], Any]:
    """The state to test, its name, and the machine's query language."""
    if "States" in document:
        states = document.get("States")
        if not isinstance(states, dict) or not states:
            raise InputError("the definition has no States", field="definition")
        name = state_name or document.get("StartAt")
        if not isinstance(name, str) or name not in states:
            raise InputError(f"the state machine has no state {name!r} to test", field="stateName")
        state = states[name]
        if not isinstance(state, dict):
            raise InputError(f"state {name!r} is not an object", field="definition")
        return name, state, document.get("QueryLanguage")
    if "Type" not in document:
        raise InputError(
            "the definition must be one state (with its Type) or a state machine "
            "(with States) and a stateName",
            field="definition",
        )
    return state_name or "TestState", document, None


def _machine(
    name: str,
    state: dict[str, Any],
    language: Any,
    *,
    keep_catch: bool,
    variables: dict[str, Any] | None,
) -> tuple[dict[str, Any], str]:
    """The small machine around the state, and the name the state has in it."""
    inner = name if name not in _targets(state) else f"{name}.Tested"
    body = {k: v for k, v in state.items() if k != "Retry" and (keep_catch or k != "Catch")}
    states: dict[str, Any] = {inner: body}
    for target in _targets(body):
        states[target] = {"Type": "Succeed"}
    machine: dict[str, Any] = {"StartAt": inner, "States": states}
    if language is not None:
        machine["QueryLanguage"] = language
    if variables:
        # Variables the state reads are assigned by a Pass state before it.
        states[_VARIABLES_STATE] = {"Type": "Pass", "Assign": variables, "Next": inner}
        if state.get("QueryLanguage") is not None:
            states[_VARIABLES_STATE]["QueryLanguage"] = state["QueryLanguage"]
        machine["StartAt"] = _VARIABLES_STATE
    return machine, inner


@dataclass
class _Run:
    """One run of the small machine."""

    events: list[dict[str, Any]]
    status: str
    output: Any
    error: str | None
    cause: str | None


def _drive(interpreter: StatesInterpreter, given: Any, mock: Mock | None) -> _Run:
    state = interpreter.new_state()
    now = _START
    meta = {"execution_id": "TestState", "definition_name": "TestState", "start_time": now}
    pending: list[Event] = [ExecutionStarted(input=given, seed=0, meta=meta)]
    timers: list[tuple[float, str]] = []
    history: list[dict[str, Any]] = []
    for _ in range(_MAX_DECISIONS):
        commands = interpreter.decide(state, pending, now)
        pending = []
        for command in commands:
            if isinstance(command, RecordMarker) and command.kind == MARKER_KIND:
                history.append(dict(command.details))
            elif isinstance(command, StartTimer):
                timers.append((now + command.delay, command.timer_id))
            elif isinstance(command, ScheduleTask):
                pending.append(_answer(command, mock))
            elif isinstance(command, CompleteExecution):
                error = command.errors[0] if command.errors else {}
                error = error if isinstance(error, dict) else {}
                return _Run(
                    history,
                    command.status,
                    command.output,
                    None if error.get("error") is None else str(error["error"]),
                    None if error.get("cause") is None else str(error["cause"]),
                )
        if not pending:
            if not timers:
                break
            # Nothing else can happen: time jumps to the next timer.
            timers.sort()
            now, timer_id = max(now, timers[0][0]), timers[0][1]
            timers.pop(0)
            pending.append(TimerFired(timer_id=timer_id))
    raise InputError(
        "the state does not finish on its own here (it waits for something "
        "TestState cannot give it, such as a task token)",
        field="definition",
    )


def _answer(command: ScheduleTask, mock: Mock | None) -> TaskCompleted:
    if mock is None:
        raise InputError(
            f"state {command.name!r} calls {command.action or 'a resource'}: give a mock "
            "(its result or its error) to test it; nothing is called here",
            field="mock",
        )
    if mock.fails:
        return TaskCompleted(
            task_id=command.task_id,
            status="failed",
            error={"type": mock.error, "message": mock.cause},
        )
    return TaskCompleted(task_id=command.task_id, status="succeeded", result=mock.result)


def _details(events: list[dict[str, Any]], key: str, name: str) -> dict[str, Any] | None:
    """The first event's ``key`` details (``stateEnteredEventDetails``, ...) of state ``name``."""
    for event in events:
        details = event.get(key)
        if isinstance(details, dict) and details.get("name") == name:
            return details
    return None


def _outcome_of(
    run: _Run, inner: str, stubs: list[str], status: str, given: Any
) -> OneStateOutcome:
    inspection: dict[str, Any] = {"input": dumps(given)}
    for event in run.events:
        for key, field_name, inspected in _TASK_FIELDS:
            details = event.get(key)
            if isinstance(details, dict) and field_name in details:
                inspection[inspected] = details[field_name]
    exited = _details(run.events, "stateExitedEventDetails", inner)
    if exited is not None and exited.get("assignedVariables"):
        variables = {k: json.loads(v) for k, v in exited["assignedVariables"].items()}
        inspection["variables"] = dumps(variables)
    for stub in stubs:
        entered = _details(run.events, "stateEnteredEventDetails", stub)
        if entered is not None:
            return OneStateOutcome(
                status=status,
                output=json.loads(entered["input"]),
                has_output=True,
                next_state=stub,
                inspection=inspection,
            )
    if run.status == "succeeded":
        return OneStateOutcome(
            status=status, output=run.output, has_output=True, inspection=inspection
        )
    return OneStateOutcome(status="FAILED", error=run.error, cause=run.cause, inspection=inspection)


def _jsonpath_steps(
    front_end: StatesFrontEnd,
    name: str,
    state: dict[str, Any],
    language: Any,
    given: Any,
    mock: Mock | None,
    variables: dict[str, Any] | None,
) -> dict[str, str]:
    """The data after each JSONPath processing step of a state that succeeded:
    each is the output of a variant of the state that stops after that step
    (``afterInputPath``; ``afterParameters`` of a Pass; ``afterResultSelector``
    of a Task; ``afterResultPath``). None for JSONata states."""
    if (state.get("QueryLanguage") or language or JSONPATH) != JSONPATH:
        return {}
    kind = state.get("Type")
    core = {k: v for k, v in state.items() if k not in ("OutputPath", "Retry", "Catch", "Next")}
    probes: dict[str, dict[str, Any]] = {
        "afterInputPath": {"Type": "Pass", "InputPath": state.get("InputPath", "$")},
    }
    if state.get("QueryLanguage") is not None:
        probes["afterInputPath"]["QueryLanguage"] = state["QueryLanguage"]
    if kind == "Pass" and "Parameters" in state:
        probes["afterParameters"] = {**core, "ResultPath": "$"}
    if kind == "Task":
        probes["afterResultSelector"] = {**core, "ResultPath": "$"}
    if kind in ("Pass", "Task"):
        probes["afterResultPath"] = dict(core)
    found: dict[str, str] = {}
    for step, probe in probes.items():
        probe["End"] = True
        machine, _ = _machine(name, probe, language, keep_catch=False, variables=variables)
        run = _drive(front_end.compile(json.dumps(machine)), given, mock)
        if run.status == "succeeded":
            found[step] = dumps(run.output)
    return found


def run_one_state(
    definition: str,
    given: Any,
    *,
    state_name: str | None = None,
    mock: Mock | None = None,
    retry_count: int = 0,
    variables: dict[str, Any] | None = None,
) -> OneStateOutcome:
    """Run one state of ``definition`` (a state, or a machine and ``state_name``)
    with ``given`` as its input.

    ``retry_count`` is how many times the state was already retried (TestState's
    ``retrierRetryCount``). Raises ``DefinitionError`` for a state the language
    refuses and ``InputError`` for a request that cannot be run.
    """
    try:
        document = json.loads(definition)
    except ValueError as exc:
        raise InputError(f"the definition is not JSON: {exc}", field="definition") from exc
    if not isinstance(document, dict):
        raise InputError("the definition must be a JSON object", field="definition")
    name, state, language = _pick_state(document, state_name)
    targets = _targets(state)
    front_end = StatesFrontEnd()

    def attempt(keep_catch: bool) -> tuple[_Run, str]:
        machine, inner = _machine(name, state, language, keep_catch=keep_catch, variables=variables)
        interpreter = front_end.compile(json.dumps(machine))
        return _drive(interpreter, given, mock), inner

    run, inner = attempt(keep_catch=False)
    if run.status == "succeeded":
        outcome = _outcome_of(run, inner, targets, "SUCCEEDED", given)
        steps = _jsonpath_steps(front_end, name, state, language, given, mock, variables)
        return dataclasses.replace(outcome, inspection={**outcome.inspection, **steps})
    failed = _outcome_of(run, inner, [], "FAILED", given)
    error = run.error
    if error == "States.Runtime":
        return failed  # neither retried nor caught, as Step Functions does
    for index, retrier in enumerate(state.get("Retry") or []):
        if not isinstance(retrier, dict) or not error_matches(
            retrier.get("ErrorEquals") or [], error
        ):
            continue
        if retry_count < int(retrier.get("MaxAttempts", 3)):
            interval = float(retrier.get("IntervalSeconds", 1)) * float(
                retrier.get("BackoffRate", 2.0)
            ) ** float(retry_count)
            if "MaxDelaySeconds" in retrier:
                interval = min(interval, float(retrier["MaxDelaySeconds"]))
            inspection = dict(failed.inspection)
            inspection["errorDetails"] = {
                "retryIndex": index,
                "retryBackoffIntervalSeconds": int(interval),
            }
            return OneStateOutcome(
                status="RETRIABLE", error=error, cause=run.cause, inspection=inspection
            )
        break  # the first matching retrier decides, and it is spent
    catchers = [c for c in state.get("Catch") or [] if isinstance(c, dict)]
    catcher = catcher_for(catchers, error)
    if catcher is None:
        return failed
    caught, inner = attempt(keep_catch=True)
    outcome = _outcome_of(caught, inner, targets, "CAUGHT_ERROR", given)
    if outcome.status != "CAUGHT_ERROR":
        return outcome
    inspection = dict(outcome.inspection)
    inspection["errorDetails"] = {"catchIndex": catchers.index(catcher)}
    return OneStateOutcome(
        status="CAUGHT_ERROR",
        output=outcome.output,
        has_output=True,
        error=error,
        cause=run.cause,
        next_state=outcome.next_state,
        inspection=inspection,
    )
