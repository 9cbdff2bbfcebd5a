"""Parallel and Map states: child threads, their results, failures and aborts.

A running Parallel/Map keeps a *frame* on its thread: the child threads still
running (by id), the results by slot and how many are left. Each child's end
is O(1): store the result, start the next Map item if any, and finish the
state when none is left. A DISTRIBUTED Map runs its items as child executions
whose events belong to their own histories, so its threads are *silent*; its
items may first be read from S3 and its results written there at the end
(:mod:`.map_storage`).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from cadenza.interpreters.states import map_storage
from cadenza.interpreters.states.dataflow import dumps
from cadenza.interpreters.states.errors import StateFailure
from cadenza.interpreters.states.input_output import effective_input, finish

if TYPE_CHECKING:
    from cadenza.interpreters.states.runtime import Run
    from cadenza.interpreters.states.state import ChildFrame, Thread
    from cadenza.model.events import TaskCompleted

__all__ = [
    "abort_children",
    "abort_thread",
    "child_failed",
    "child_succeeded",
    "start_map",
    "start_parallel",
    "storage_task_completed",
]


def _payload(run: Run, th: Thread) -> tuple[Any, Any]:
    """(what the children get, the state's effective input) for Parallel."""
    spec = run.spec(th)
    if run.definition.is_jsonata(spec):
        env = run.env(th, {"input": th["input"]})
        payload = (
            env.jsonata(spec["Arguments"], "Arguments") if "Arguments" in spec else th["input"]
        )
        return payload, th["input"]
    env = run.env(th)
    data = effective_input(run, th, env)
    return (env.render(spec["Parameters"], data) if "Parameters" in spec else data), data


def start_parallel(run: Run, th: Thread) -> None:
    """Start every branch with the same input."""
    spec = run.spec(th)
    payload, _ = _payload(run, th)
    run.emit(th, "ParallelStateStarted")
    branches = spec.get("Branches") or []
    frame: ChildFrame = {
        "kind": "parallel",
        "running": {},
        "results": [None] * len(branches),
        "finished": [False] * len(branches),
        "remaining": len(branches),
    }
    th["frame"] = frame
    _keep_redriven(th, frame)
    for i in range(len(branches)):
        if frame["finished"][i]:
            continue
        child = run.new_thread(
            f"{th['scope']}/{th['state']}#{i}", th["id"], i, payload, th["vars"], th["prev"]
        )
        child["silent"] = th.get("silent", False)
        frame["running"][child["id"]] = i
        run.ready.append(child["id"])
    if frame["remaining"] == 0:
        _complete(run, th)


def _map_number(run: Run, th: Thread, field: str, default: float) -> float:
    spec = run.spec(th)
    env = run.env(th, {"input": th["input"]})
    if run.definition.is_jsonata(spec):
        if field not in spec:
            return default
        value = env.jsonata_typed(
            spec[field], field, "number", lambda v: isinstance(v, int | float)
        )
        return float(value)
    if field in spec:
        return float(spec[field])
    if f"{field}Path" in spec:
        path = str(spec[f"{field}Path"])
        value = env.value_of(path, th["input"], f"{field}Path")
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = float(value) if field == "ToleratedFailurePercentage" else int(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            shown = value if isinstance(value, str) else dumps(value)
            kind = "float" if field == "ToleratedFailurePercentage" else "integer"
            raise env.failure(
                "States.Runtime",
                f'The {field}Path field refers to value "{shown}" which is not a '
                f"valid {kind}: {path}",
            )
        return float(value)
    return default


def start_map(run: Run, th: Thread) -> None:
    """Evaluate the items (or have the ``ItemReader`` read them first) and start
    the first iterations."""
    spec = run.spec(th)
    if isinstance(spec.get("ItemReader"), dict) and "read_items" not in th:
        try:
            map_storage.start_reading(run, th)
        except StateFailure:
            th["failed_events"] = ["MapStateFailed"]
            raise
        return
    try:
        items, data, env = _items(run, th)
    except StateFailure:
        th["failed_events"] = ["MapStateFailed"]
        raise
    th["map_limit"] = _map_number(run, th, "MaxConcurrency", 0)
    _start_iterations(run, th, items, data, env)


def storage_task_completed(run: Run, event: TaskCompleted) -> bool:
    """Continue the Map whose ``ItemReader`` or ``ResultWriter`` task ended;
    False if ``event`` answers no such task."""
    found = map_storage.storage_task(run, event)
    if found is None:
        return False
    th, kind = found
    if th["done"]:
        return True
    try:
        if kind == "reader":
            th["read_items"] = map_storage.items_read(run, th, event)
            start_map(run, th)
        else:
            output = map_storage.result_written(th, event)
            run.emit(th, "MapRunSucceeded")
            run.emit(th, "MapStateSucceeded")
            finish(run, th, output)
    except StateFailure as failure:
        if failure.error == "States.ItemReaderFailed":
            th["failed_events"] = ["MapStateFailed"]
        elif failure.error == "States.ResultWriterFailed":
            th["failed_events"] = ["MapRunFailed", "MapStateFailed"]
        run.state_failed(th, failure)
    return True


def _items(run: Run, th: Thread) -> tuple[list[Any], Any, Any]:
    spec = run.spec(th)
    jsonata = run.definition.is_jsonata(spec)
    read = th.pop("read_items", None)
    if read is not None:
        env = run.env(th, {"input": th["input"]}) if jsonata else run.env(th)
        return read, (th["input"] if jsonata else effective_input(run, th, env)), env
    if jsonata:
        env = run.env(th, {"input": th["input"]})
        data = th["input"]
        items = (
            env.jsonata_typed(spec["Items"], "Items", "array", lambda v: isinstance(v, list))
            if "Items" in spec
            else data
        )
    else:
        env = run.env(th)
        data = effective_input(run, th, env)
        items = (
            env.select_field(spec["ItemsPath"], data, "ItemsPath") if "ItemsPath" in spec else data
        )
    if not isinstance(items, list):
        raise env.failure(
            "States.QueryEvaluationError" if jsonata else "States.Runtime",
            f"Map state input must be an array but was: {dumps(items)}",
        )
    return items, data, env


def _start_iterations(run: Run, th: Thread, items: list[Any], data: Any, env: Any) -> None:
    spec = run.spec(th)
    processor = spec.get("ItemProcessor") or spec.get("Iterator") or {}
    distributed = (processor.get("ProcessorConfig") or {}).get("Mode") == "DISTRIBUTED"
    run.emit(th, "MapStateStarted", "mapStateStartedEventDetails", {"length": len(items)})
    limit = th.pop("map_limit", 0)
    count = _map_number(run, th, "ToleratedFailureCount", 0)
    percentage = _map_number(run, th, "ToleratedFailurePercentage", 0)
    if count < 0:
        raise env.failure("States.Runtime", "ToleratedFailureCount cannot be negative.")
    if not 0 <= percentage <= 100:
        raise env.failure("States.Runtime", "ToleratedFailurePercentage must be between 0 and 100.")
    batcher = spec.get("ItemBatcher")
    if batcher is not None:
        try:
            items = _batches(items, batcher, env, data, run.definition.is_jsonata(spec))
        except StateFailure:
            th["failed_events"] = ["MapStateFailed"]
            raise
    frame: ChildFrame = {
        "kind": "map",
        "items": items,
        "data": data,
        "next": 0,
        "running": {},
        "results": [None] * len(items),
        "finished": [False] * len(items),
        "remaining": len(items),
        "limit": int(limit),
        "failures": 0,
        "tolerated_count": count,
        "tolerated_percentage": percentage,
        "distributed": distributed,
    }
    if distributed and isinstance(spec.get("ResultWriter"), dict):
        # What the results written at the end tell of each child execution.
        frame["inputs"] = [None] * len(items)
        frame["times"] = [[0.0, 0.0] for _ in items]
        frame["failed"] = []
    th["frame"] = frame
    if distributed:
        ctx = run.state["context"]
        machine = str(ctx["StateMachine"]["Name"])
        run_id = run.entropy(16).hex()
        arn = f"arn:aws:states:us-east-1:111111111111:mapRun:{machine}/{th['state']}:{run_id}"
        th["map_run_arn"] = arn
        run.emit(th, "MapRunStarted", "mapRunStartedEventDetails", {"mapRunArn": arn})
    _keep_redriven(th, frame)
    _launch(run, th)
    if frame["remaining"] == 0:
        _complete(run, th)


def _keep_redriven(th: Thread, frame: ChildFrame) -> None:
    """After a redrive, the branches/iterations that had succeeded keep their results."""
    kept = th.pop("redrive_frame", None)
    if kept is None or len(kept["finished"]) != len(frame["finished"]):
        return
    for slot, done in enumerate(kept["finished"]):
        if done:
            frame["finished"][slot] = True
            frame["results"][slot] = kept["results"][slot]
            frame["remaining"] -= 1


def _batches(
    items: list[Any], batcher: dict[str, Any], env: Any, data: Any, jsonata: bool
) -> list[Any]:
    """The items grouped as ``ItemBatcher`` says (JSONata: its fields may be expressions)."""
    size_spec = batcher.get("MaxItemsPerBatch")
    batch_input = batcher.get("BatchInput")
    if jsonata:
        if size_spec is not None:
            size_spec = env.jsonata_typed(
                size_spec,
                "ItemBatcher/MaxItemsPerBatch",
                "number",
                lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            )
        if batch_input is not None:
            batch_input = env.jsonata(batch_input, "ItemBatcher/BatchInput")
    elif batch_input is not None:
        batch_input = env.render(batch_input, data)
    size = int(size_spec or 0) or len(items) or 1
    out = []
    for i in range(0, len(items), size):
        batch: dict[str, Any] = {"Items": items[i : i + size]}
        if batch_input is not None:
            batch["BatchInput"] = batch_input
        out.append(batch)
    return out


def _launch(run: Run, th: Thread) -> None:
    frame = th["frame"]
    spec = run.spec(th)
    selector = spec.get("ItemSelector", spec.get("Parameters"))
    while frame["next"] < len(frame["items"]) and (
        frame["limit"] <= 0 or len(frame["running"]) < frame["limit"]
    ):
        index = frame["next"]
        frame["next"] = index + 1
        if frame["finished"][index]:
            continue
        item = frame["items"][index]
        value = item
        if selector is not None:
            extra = {"Map": {"Item": {"Index": index, "Value": item}}}
            if run.definition.is_jsonata(spec):
                env = run.env(th, {"input": th["input"]}, **extra)
                value = env.jsonata(selector, "ItemSelector")
            else:
                value = run.env(th, **extra).render(selector, frame["data"])
        child = run.new_thread(
            f"{th['scope']}/{th['state']}#map", th["id"], index, value, th["vars"], th["prev"]
        )
        child["silent"] = bool(th.get("silent") or frame["distributed"])
        if "inputs" in frame:
            frame["inputs"][index] = value
            frame["times"][index] = [run.now, run.now]
        if not frame["distributed"]:
            details = {"index": index, "name": th["state"]}
            run.emit(child, "MapIterationStarted", "mapIterationStartedEventDetails", details)
        frame["running"][child["id"]] = index
        run.ready.append(child["id"])


def _iteration_event(
    run: Run, child: Thread, parent: Thread, kind: str, frame: ChildFrame | None = None
) -> None:
    if not (frame or parent["frame"])["distributed"]:
        details = {"index": child["slot"], "name": parent["state"]}
        key = f"mapIteration{kind}EventDetails"
        run.emit(child, f"MapIteration{kind}", key, details)


def child_succeeded(run: Run, child: Thread, output: Any) -> None:
    """A branch or iteration ended with ``output``."""
    parent = _parent_of(run, child)
    frame = parent.get("frame")
    run.state["threads"].pop(child["id"], None)
    if frame is None or child["id"] not in frame["running"]:
        return
    del frame["running"][child["id"]]
    _stopped(run, frame, child["slot"])
    frame["results"][child["slot"]] = output
    frame["finished"][child["slot"]] = True
    frame["remaining"] -= 1
    if frame["kind"] == "map":
        _iteration_event(run, child, parent, "Succeeded")
        parent["prev"] = max(int(parent["prev"]), int(child["prev"]))
        if frame["remaining"] > 0:
            try:
                _launch(run, parent)
            except StateFailure as failure:
                _fail_state(run, parent, failure)
            return
    else:
        parent["prev"] = max(int(parent["prev"]), int(child["prev"]))
    if frame["remaining"] == 0:
        _complete(run, parent)


def _stopped(run: Run, frame: ChildFrame, slot: int) -> None:
    if "times" in frame:
        frame["times"][slot] = [frame["times"][slot][0], run.now]


def _parent_of(run: Run, child: Thread) -> Thread:
    """The Parallel/Map thread a branch or iteration belongs to."""
    parent = child["parent"]
    assert parent is not None, "only the root thread has no parent"
    return run.state["threads"][parent]


def _complete(run: Run, th: Thread) -> None:
    frame = th.pop("frame")
    if frame["kind"] == "parallel":
        run.emit(th, "ParallelStateSucceeded")
    elif frame["distributed"] and isinstance(run.spec(th).get("ResultWriter"), dict):
        try:
            map_storage.start_writing(run, th, frame)
        except StateFailure as failure:
            th["failed_events"] = ["MapRunFailed", "MapStateFailed"]
            run.state_failed(th, failure)
        return  # the Map succeeds once its results are written
    else:
        if frame["distributed"]:
            run.emit(th, "MapRunSucceeded")
        run.emit(th, "MapStateSucceeded")
    try:
        finish(run, th, frame["results"])
    except StateFailure as failure:
        run.state_failed(th, failure)


def child_failed(run: Run, child: Thread, failure: StateFailure) -> None:
    """A branch or iteration failed: the Parallel/Map fails (after tolerance)."""
    parent = _parent_of(run, child)
    frame = parent.get("frame")
    run.state["threads"].pop(child["id"], None)
    if frame is None or child["id"] not in frame["running"]:
        return
    del frame["running"][child["id"]]
    last = int(child["prev"])
    if frame["kind"] == "map":
        _iteration_event(run, child, parent, "Failed")
        _stopped(run, frame, child["slot"])
        if frame["distributed"] and _tolerated(frame, child, failure):
            frame["remaining"] -= 1
            try:
                _launch(run, parent)
            except StateFailure as launch_failure:
                # The next item's ItemSelector failed: the Map fails with that.
                _fail_state(run, parent, launch_failure)
                return
            if frame["remaining"] == 0:
                _complete(run, parent)
            return
    if child["active"]:
        run.emit(child, f"{run.spec(child)['Type']}StateAborted")
        child["active"] = False
    child.pop("pending_failure", None)
    parent["prev"] = last
    _fail_state(run, parent, failure)


def _tolerated(frame: ChildFrame, child: Thread, failure: StateFailure) -> bool:
    frame["failures"] += 1
    total = len(frame["items"]) or 1
    if frame["failures"] <= frame["tolerated_count"] or (
        frame["failures"] * 100.0 / total <= frame["tolerated_percentage"]
        and frame["tolerated_percentage"] > 0
    ):
        frame["results"][child["slot"]] = {"Error": failure.error, "Cause": failure.cause}
        if "failed" in frame:
            frame["failed"].append(child["slot"])
        return True
    return False


def _fail_state(run: Run, th: Thread, failure: StateFailure) -> None:
    """The Parallel/Map fails with a child's error (its Failed events wait for Retry)."""
    frame = th.get("frame")
    abort_children(run, th)
    if frame is not None:
        th["redrive_frame"] = {"results": frame["results"], "finished": frame["finished"]}
        if frame["kind"] == "parallel":
            th["failed_events"] = ["ParallelStateFailed"]
        elif frame["distributed"]:
            th["failed_events"] = ["MapRunFailed", "MapStateFailed"]
        else:
            th["failed_events"] = ["MapStateFailed"]
    run.state_failed(th, failure)


def abort_children(run: Run, th: Thread) -> None:
    """Abort every child still running under ``th``'s Parallel/Map frame."""
    frame = th.pop("frame", None)
    if frame is None:
        return
    for cid in sorted(frame["running"], key=lambda c: frame["running"][c]):
        child = run.state["threads"].pop(cid, None)
        if child is None or (child["done"] and not child.get("pending_failure")):
            continue
        if frame["kind"] == "map":
            _iteration_event(run, child, th, "Aborted", frame)
        abort_thread(run, child)
    frame["running"] = {}


def abort_thread(run: Run, th: Thread) -> None:
    """Stop a thread that is still running (a sibling failed, or the Map ended)."""
    if th["done"] and not th.pop("pending_failure", False):
        return
    th["done"] = True
    if th["active"]:
        kind = run.spec(th)["Type"]
        abort_children(run, th)
        run.emit(th, f"{kind}StateAborted")
        th["active"] = False
