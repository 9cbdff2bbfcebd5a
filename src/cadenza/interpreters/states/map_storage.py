"""A Distributed Map's items from S3 (``ItemReader``) and results to S3 (``ResultWriter``).

The interpreter reads and writes nothing itself: it schedules a task of the
action ``states.s3.read_items`` before the Map's iterations start, and one of
``states.s3.write_results`` once they have all ended (a worker serves them, see
``cadenza.workers.builtins.s3_items``); their answers come back as
``TaskCompleted``. This module builds those requests and reads their answers;
:mod:`.concurrency` decides when they happen.

* The reader's request is ``{"Resource", "Arguments", "ReaderConfig"}``: the
  ``ItemReader``'s ``Parameters`` (JSONPath, on the effective input) or
  ``Arguments`` (JSONata), and its ``ReaderConfig`` with ``MaxItemsPath``
  resolved into ``MaxItems``. Its answer is the array of items.
* The writer's request is ``{"Bucket", "Prefix", "MapRunArn", "Results"}``, the
  results as Step Functions writes them (one entry per child execution, by
  status). Its answer is ``{"Bucket", "Key"}`` of the manifest, and the Map's
  result becomes ``{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}``.
* A failed read is ``States.ItemReaderFailed``, a failed write
  ``States.ResultWriterFailed``, with the worker's message as the cause.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from cadenza.interpreters.states.dataflow import dumps, iso_time
from cadenza.interpreters.states.errors import StateFailure
from cadenza.interpreters.states.input_output import effective_input
from cadenza.model.commands import ScheduleTask
from cadenza.model.events import TaskCompleted
from cadenza.model.ids import uuid_shaped

if TYPE_CHECKING:
    from cadenza.interpreters.states.runtime import Run
    from cadenza.interpreters.states.state import ChildFrame, Thread

__all__ = [
    "READ_ITEMS",
    "WRITE_RESULTS",
    "items_read",
    "result_written",
    "start_reading",
    "start_writing",
    "storage_task",
]

#: The actions a worker serves for these tasks (``cadenza.workers.builtins.s3_items``).
READ_ITEMS = "states.s3.read_items"
WRITE_RESULTS = "states.s3.write_results"

REGION = "us-east-1"
ACCOUNT = "111111111111"


def _fields(run: Run, th: Thread, spec: dict[str, Any], where: str) -> Any:
    """The ``Parameters`` (JSONPath) or ``Arguments`` (JSONata) of a reader or writer."""
    if run.definition.is_jsonata(run.spec(th)):
        env = run.env(th, {"input": th["input"]})
        return env.jsonata(spec.get("Arguments") or {}, f"{where}/Arguments")
    env = run.env(th)
    return env.render(spec.get("Parameters") or {}, effective_input(run, th, env))


def _reader_config(run: Run, th: Thread, reader: dict[str, Any]) -> dict[str, Any]:
    raw = reader.get("ReaderConfig") or {}
    if run.definition.is_jsonata(run.spec(th)):
        config = run.env(th, {"input": th["input"]}).jsonata(raw, "ItemReader/ReaderConfig")
        return dict(config) if isinstance(config, dict) else {}
    config = dict(raw)
    if "MaxItemsPath" in config:
        env = run.env(th)
        path = str(config.pop("MaxItemsPath"))
        value = env.value_of(path, effective_input(run, th, env), "MaxItemsPath")
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise env.failure(
                "States.Runtime",
                f'The MaxItemsPath field refers to value "{dumps(value)}" which is not a '
                f"valid non-negative integer: {path}",
            )
        config["MaxItems"] = value
    return config


def start_reading(run: Run, th: Thread) -> None:
    """Schedule the read of the Map's items (its ``ItemReader``)."""
    reader = run.spec(th)["ItemReader"]
    request = {
        "Resource": reader.get("Resource"),
        "Arguments": _fields(run, th, reader, "ItemReader"),
        "ReaderConfig": _reader_config(run, th, reader),
    }
    _schedule(run, th, "reader", READ_ITEMS, request)


def start_writing(run: Run, th: Thread, frame: ChildFrame) -> None:
    """Schedule the write of the Map Run's results (its ``ResultWriter``)."""
    writer = run.spec(th)["ResultWriter"]
    fields = _fields(run, th, writer, "ResultWriter")
    fields = fields if isinstance(fields, dict) else {}
    arn = th.get("map_run_arn", "")
    request = {
        "Bucket": fields.get("Bucket"),
        "Prefix": fields.get("Prefix", ""),
        "MapRunArn": arn,
        "Results": _results(run, th, frame, arn),
    }
    _schedule(run, th, "writer", WRITE_RESULTS, request)


def _schedule(run: Run, th: Thread, kind: str, action: str, request: dict[str, Any]) -> None:
    task_id = f"{th['id']}.{th['state']}.{kind}.{run.seq()}"
    th["map_io"] = {"task": task_id, "kind": kind}
    run.state["tasks"][task_id] = th["id"]
    run.commands.append(
        ScheduleTask(
            task_id=task_id,
            name=th["state"],
            action=action,
            input=request,
            meta={"state": th["state"], "thread": th["id"]},
        )
    )


def storage_task(run: Run, event: TaskCompleted) -> tuple[Thread, str] | None:
    """The Map thread and ``reader``/``writer`` this answer is for, if it is one
    of theirs (it is then taken off the tasks waited for)."""
    tid = run.state["tasks"].get(event.task_id)
    th = None if tid is None else run.state["threads"].get(tid)
    waiting = None if th is None else th.get("map_io")
    if th is None or waiting is None or waiting["task"] != event.task_id:
        return None
    run.state["tasks"].pop(event.task_id)
    del th["map_io"]
    return th, waiting["kind"]


def _cause(event: TaskCompleted, what: str) -> str:
    error = event.error if isinstance(event.error, dict) else {}
    if error.get("type") == "action.not_found":
        action, handler = (
            (READ_ITEMS, "read_items") if what == "reader" else (WRITE_RESULTS, "write_results")
        )
        return (
            f"no worker serves {action}: map it in the resource map to "
            f"python: cadenza.workers.builtins.s3_items:{handler}"
        )
    return str(error.get("message") or error.get("type") or "failed")


def items_read(run: Run, th: Thread, event: TaskCompleted) -> list[Any]:
    """The items the reader answered with (``ReaderConfig.MaxItems`` at most);
    ``States.ItemReaderFailed`` if it failed."""
    if event.status != "succeeded":
        raise StateFailure("States.ItemReaderFailed", _cause(event, "reader"))
    if not isinstance(event.result, list):
        raise StateFailure(
            "States.ItemReaderFailed",
            f"the item reader answered a JSON {type(event.result).__name__}, not an array",
        )
    limit = (run.spec(th)["ItemReader"].get("ReaderConfig") or {}).get("MaxItems")
    if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
        return event.result[:limit]
    return event.result


def result_written(th: Thread, event: TaskCompleted) -> dict[str, Any]:
    """The Map's result once its results are written; ``States.ResultWriterFailed``
    if the write failed."""
    if event.status != "succeeded" or not isinstance(event.result, dict):
        raise StateFailure("States.ResultWriterFailed", _cause(event, "writer"))
    details = {"Bucket": event.result.get("Bucket"), "Key": event.result.get("Key")}
    return {"MapRunArn": th.get("map_run_arn", ""), "ResultWriterDetails": details}


def _results(run: Run, th: Thread, frame: ChildFrame, arn: str) -> dict[str, list[Any]]:
    """One entry per child execution, as Step Functions writes a Map Run's results."""
    machine = str(run.state["context"]["StateMachine"]["Name"])
    label = f"{machine}/{th['state']}"
    failed = set(frame.get("failed", []))
    inputs = frame.get("inputs", [])
    times = frame.get("times", [])
    out: dict[str, list[Any]] = {"SUCCEEDED": [], "FAILED": [], "PENDING": []}
    for slot, result in enumerate(frame["results"]):
        name = uuid_shaped(hashlib.sha256(f"{arn}:{slot}".encode()).digest())
        started, stopped = times[slot] if slot < len(times) else (run.now, run.now)
        entry: dict[str, Any] = {
            "ExecutionArn": f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{label}:{name}",
            "Input": dumps(inputs[slot] if slot < len(inputs) else None),
            "InputDetails": {"Included": True},
            "Name": name,
            "RedriveCount": 0,
            "StartDate": iso_time(started),
            "StateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{label}",
        }
        if not frame["finished"][slot] and slot not in failed:
            out["PENDING"].append({**entry, "Status": "PENDING"})
        elif slot in failed:
            error = result if isinstance(result, dict) else {}
            entry.update(Error=error.get("Error"), Cause=error.get("Cause"))
            entry.update(RedriveStatus="NOT_REDRIVABLE", Status="FAILED")
            out["FAILED"].append({**entry, "StopDate": iso_time(stopped)})
        else:
            entry.update(Output=dumps(result), OutputDetails={"Included": True})
            entry.update(
                RedriveStatus="NOT_REDRIVABLE",
                RedriveStatusReason="Execution is SUCCEEDED and cannot be redriven",
                Status="SUCCEEDED",
                StopDate=iso_time(stopped),
            )
            out["SUCCEEDED"].append(entry)
    return out
