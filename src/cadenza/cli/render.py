"""What the CLI prints: live progress lines, tables, and the stable JSON result."""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from cadenza.engine.decider import DecisionOutcome
from cadenza.model.events import JSON, ExecutionStarted, RecordedEvent
from cadenza.model.secrets import mask, secrets_at
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
    """Prints one line per step event of one execution as decisions commit."""

    def __init__(self, execution_id: str, out: TextIO | None = None) -> None:
        self.execution_id = execution_id
        self.out = out or sys.stderr
        self._names: dict[str, str] = {}
        self._secrets: list[str] = []
        self._started = time.monotonic()

    def learn(self, history: list[RecordedEvent]) -> None:
        """Remember the names of tasks scheduled before this printer started."""
        self._secrets = secrets_in(history)
        for recorded in history:
            if recorded.event.type == "TaskScheduled":
                data = recorded.event.payload()
                self._names[data["task_id"]] = data["name"]

    def __call__(self, outcome: DecisionOutcome) -> None:
        if outcome.execution_id != self.execution_id:
            return
        for _decision, _time, event in outcome.appended:
            if isinstance(event, ExecutionStarted):
                self._secrets = _started_secrets(event)
            line = self._line(event.type, event.payload())
            if line:
                line = mask(line, self._secrets)
                elapsed = time.monotonic() - self._started
                print(f"[{elapsed:7.2f}s] {line}", file=self.out, flush=True)

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
    """The secret values of the execution whose history starts with ``events``."""
    for recorded in events[:1]:
        if isinstance(recorded.event, ExecutionStarted):
            return _started_secrets(recorded.event)
    return []


def _started_secrets(event: ExecutionStarted) -> list[str]:
    return secrets_at(event.input, event.meta.get("secret_paths") or [])


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
