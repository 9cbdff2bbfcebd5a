"""What the CLI prints: live progress lines, tables, and the stable JSON result."""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from cadenza.engine.decider import DecisionOutcome
from cadenza.model.events import JSON, MarkerRecorded, RecordedEvent
from cadenza.model.secrets import mask, recorded_secrets
from cadenza.store.records import ExecutionRecord


def to_json(value: JSON, *, pretty: bool = True) -> str:
    return json.dumps(value, indent=2 if pretty else None, sort_keys=False, ensure_ascii=False)


def result_document(record: ExecutionRecord) -> dict[str, JSON]:
    """The stable ``--json`` shape: ``{execution_id, status, output, errors}``."""
    return {
        "execution_id": record.id,
        "status": record.status,
        "output": record.output,
        "errors": record.errors,
    }


class ProgressPrinter:
    """Prints one line per step event of one execution as decisions commit.

    A state machine's execution records Step Functions' own history events
    (``MarkerRecorded(kind="sfn")``); once one is seen, its lines come from
    those (see :class:`StatesProgress`) instead of from the kernel's task events.
    """

    def __init__(self, execution_id: str, out: TextIO | None = None) -> None:
        self.execution_id = execution_id
        self.out = out or sys.stderr
        self._names: dict[str, str] = {}
        self._secrets: list[str] = []
        self._started = time.monotonic()
        self._states: StatesProgress | None = None

    def learn(self, history: list[RecordedEvent]) -> None:
        """Remember the names of tasks scheduled before this printer started."""
        self._secrets = secrets_in(history)
        for recorded in history:
            if recorded.event.type == "TaskScheduled":
                data = recorded.event.payload()
                self._names[data["task_id"]] = data["name"]
            elif isinstance(recorded.event, MarkerRecorded) and recorded.event.kind == "sfn":
                # Catch up silently: counts of Map iterations, the open Choice.
                self._states_progress().line(recorded.event.details, recorded.time)

    def __call__(self, outcome: DecisionOutcome) -> None:
        if outcome.execution_id != self.execution_id:
            return
        for _decision, _time, event in outcome.appended:
            found = recorded_secrets(event)
            if found:  # the input's secrets, and a scheduled task's secret parameters
                self._secrets = sorted({*self._secrets, *found}, key=len, reverse=True)
            if isinstance(event, MarkerRecorded) and event.kind == "sfn":
                line = self._states_progress().line(event.details, _time)
            elif self._states is not None:
                line = self._states.kernel_line(event.type, event.payload(), _time)
            else:
                line = self._line(event.type, event.payload())
            if line:
                line = mask(line, self._secrets)
                elapsed = time.monotonic() - self._started
                print(f"[{elapsed:7.2f}s] {line}", file=self.out, flush=True)

    def _states_progress(self) -> StatesProgress:
        if self._states is None:
            self._states = StatesProgress()
        return self._states

    def _line(self, kind: str, data: dict[str, Any]) -> str | None:
        task_id = data.get("task_id", "")
        name = self._names.get(task_id, task_id)
        if kind == "TaskScheduled":
            self._names[task_id] = data["name"]
            if data.get("action") is None:
                return None
            when = f" in {data['delay']:g}s" if data.get("delay") else ""
            return f"run       {data['name']}  ({data['action']}){when}"
        if kind == "TaskCompleted":
            status = data["status"]
            detail = _failure_detail(data) if status != "succeeded" else ""
            return f"{status:<9} {name}{detail}"
        if kind == "TaskSuspended":
            return f"waiting   {name}  (answer with: cadenza respond {self.execution_id} {name})"
        if kind == "TaskAttemptFailed":
            error = data.get("error") or {}
            return (
                f"retry     {name}  attempt {data['attempt']} failed "
                f"({error.get('type', 'error')}); again in {data['retry_in']:g}s"
            )
        if kind == "ExecutionStatusChanged" and data["status"] not in ("running",):
            return f"workflow  {data['status']}"
        if kind == "ExecutionCompleted":
            return f"workflow  {data['status']}"
        if kind == "RequestRejected":
            return f"refused   {data['request']}: {(data.get('error') or {}).get('message', '')}"
        return None


#: A Map's S3 work (``ItemReader``/``ResultWriter``): the kernel's task is its only trace.
_MAP_STORAGE = {
    "states.s3.read_items": "s3        reading the Map's items",
    "states.s3.write_results": "s3        writing the Map Run's results",
}

#: The Step Functions events that end a task, and the word their line starts with.
_TASK_ENDS = {
    "Succeeded": "succeeded",
    "Failed": "failed",
    "TimedOut": "timed out",
    "StartFailed": "failed",
    "SubmitFailed": "failed",
    "ScheduleFailed": "failed",
}


class StatesProgress:
    """Progress lines of a state machine's execution, in Step Functions' terms.

    Each state entered and exited is told by its name and type; a Wait says
    until when, a Choice which state it chose. Map iterations are counted
    ("Map: 37/100 items done", at each tenth and at the end) and the states
    inside them are not told one by one. A task waiting for a callback or an
    activity worker says so, distinct from a task that succeeded.

    Step Functions' events name their state only when it is entered; every
    later event links to the one before it in the same branch
    (``previousEventId``), which is how the others are given their state's name.
    """

    def __init__(self) -> None:
        #: The state each event belongs to, by event id.
        self._owner: dict[int, str] = {}
        #: Choice states just exited, by the id of their exit event.
        self._choices: dict[int, str] = {}
        #: Map state name -> [items done, items in all].
        self._maps: dict[str, list[int]] = {}
        self._open_iterations = 0
        self._current_wait: str | None = None

    def line(self, details: JSON, at: float) -> str | None:
        """The line for one Step Functions history event, if it gets one."""
        if not isinstance(details, dict):
            return None
        kind = str(details.get("type", ""))
        event_id = int(details.get("id") or 0)
        previous = int(details.get("previousEventId") or 0)
        info = next((v for k, v in details.items() if k.endswith("EventDetails")), None)
        info = info if isinstance(info, dict) else {}
        if kind.endswith("StateEntered"):
            name = str(info.get("name", ""))
            self._owner[event_id] = name
            return self._entered(kind.removesuffix("StateEntered"), name, previous)
        # Not popped: the first events of all branches of a Parallel link to it.
        name = self._owner.get(previous, "")
        self._owner[event_id] = name
        if kind.endswith("StateExited"):
            name = str(info.get("name", name))
            return self._exited(kind.removesuffix("StateExited"), name, event_id)
        if kind.startswith("MapIteration"):
            # The Map's own next events link to its iterations' last ones.
            self._owner[event_id] = str(info.get("name", ""))
            return self._iteration(kind.removeprefix("MapIteration"), str(info.get("name", "")))
        if self._open_iterations > 0:
            return None  # inside a Map iteration: counted, not told
        return self._event(kind, name, info)

    def kernel_line(self, kind: str, data: dict[str, Any], at: float) -> str | None:
        """The line for a kernel event of a state machine's execution: the timer
        of a Wait (until when) and the final status; tasks are told by their
        Step Functions events."""
        if kind == "TimerStarted" and ".wait." in str(data.get("timer_id", "")):
            name, self._current_wait = self._current_wait, None
            if name is None:
                return None
            delay = float(data.get("delay") or 0.0)
            until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at + delay))
            return f"wait      {name}  until {until} (in {delay:g}s)"
        if kind == "TaskScheduled" and data.get("action") in _MAP_STORAGE:
            return f"{_MAP_STORAGE[data['action']]}  ({data.get('name', '')})"
        if kind in ("ExecutionCompleted", "ExecutionStatusChanged") and data["status"] != "running":
            return f"workflow  {data['status']}"
        if kind == "RequestRejected":
            return f"refused   {data['request']}: {(data.get('error') or {}).get('message', '')}"
        return None

    def _entered(self, state_type: str, name: str, previous: int) -> str | None:
        chosen_by = self._choices.pop(previous, None)
        if self._open_iterations > 0:
            return None
        if state_type == "Wait":
            self._current_wait = name
        line = f"enter     {name}  ({state_type})"
        if chosen_by is not None:
            return f"choice    {chosen_by} -> {name}\n{line}"
        return line

    def _exited(self, state_type: str, name: str, event_id: int) -> str | None:
        if state_type == "Choice":
            self._choices[event_id] = name
        if self._open_iterations > 0:
            return None
        self._maps.pop(name, None)
        return f"exited    {name}  ({state_type})"

    def _iteration(self, what: str, name: str) -> str | None:
        if what == "Started":
            self._open_iterations += 1
            return None
        self._open_iterations = max(0, self._open_iterations - 1)
        counts = self._maps.get(name)
        if counts is None or what not in ("Succeeded", "Failed"):
            return None
        done_before = counts[0]
        counts[0] += 1
        done, total = counts
        tenth = max(1, total // 10)
        if done == total or done // tenth != done_before // tenth:
            return f"map       {name}: {done}/{total} items done"
        return None

    def _event(self, kind: str, name: str, info: dict[str, Any]) -> str | None:
        if kind == "MapStateStarted":
            length = int(info.get("length") or 0)
            self._maps[name] = [0, length]
            return f"map       {name}: {length} items"
        if kind in ("ExecutionFailed", "ExecutionTimedOut") and info.get("error"):
            return f"failed    {info['error']}: {info.get('cause') or ''}".rstrip(": ")
        if kind in ("MapRunStarted", "MapRunSucceeded", "MapRunFailed"):
            return f"map run   {name}  {kind.removeprefix('MapRun').lower()}"
        for prefix in ("LambdaFunction", "Activity", "Task"):
            if kind.startswith(prefix):
                return self._task_line(kind.removeprefix(prefix), prefix, name, info)
        return None

    def _task_line(self, what: str, prefix: str, name: str, info: dict[str, Any]) -> str | None:
        resource = str(info.get("resource", ""))
        if prefix == "Task" and info.get("resourceType"):
            resource = f"{info['resourceType']}:{resource}"
        if what == "Scheduled":
            if prefix == "Activity":
                return f"waiting   {name}  for an activity worker ({resource})"
            return f"run       {name}  ({resource})"
        if what == "Submitted":
            return f"waiting   {name}  for a callback with its task token ({resource})"
        word = _TASK_ENDS.get(what)
        if word is None:
            return None
        detail = f"  ({info['error']}: {info.get('cause') or ''})" if info.get("error") else ""
        return f"{word:<9} {name}{detail}"


def _failure_detail(data: dict[str, Any]) -> str:
    result = data.get("result")
    if isinstance(result, dict) and "return_code" in result:
        stderr = str(result.get("stderr") or "").strip().splitlines()
        tail = f": {stderr[-1]}" if stderr else ""
        return f"  (exit {result['return_code']}{tail})"
    error = data.get("error")
    if isinstance(error, dict) and error.get("message"):
        return f"  ({error.get('type', 'error')}: {error['message']})"
    return ""


def secrets_in(events: list[RecordedEvent]) -> list[str]:
    """The secret values ``events`` mark (input secrets, secret task parameters),
    longest first so that a longer secret is masked before a shorter one."""
    return sorted({s for r in events for s in recorded_secrets(r.event)}, key=len, reverse=True)


def history_lines(events: list[RecordedEvent], secrets: list[str] | None = None) -> list[str]:
    """One line per event; secret values masked."""
    hidden = secrets_in(events) if secrets is None else secrets
    lines = []
    for recorded in events:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(recorded.time))
        payload = json.dumps(
            mask(recorded.event.payload(), hidden), ensure_ascii=False, separators=(",", ":")
        )
        if len(payload) > 160:
            payload = payload[:157] + "..."
        lines.append(
            f"{recorded.seq:>5} {recorded.decision:>4} {stamp} {recorded.event.type:<24} {payload}"
        )
    return lines


def age(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f}m"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds / 86400:.0f}d"
