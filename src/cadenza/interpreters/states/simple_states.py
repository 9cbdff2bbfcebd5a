"""Pass, Wait, Choice, Succeed and Fail: the states that run no task and no child thread.

Also the two timer ends that are not a task's: a Wait state's wait and the
machine's ``TimeoutSeconds``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from cadenza.expressions import jsonpath
from cadenza.interpreters.states.choice import matches_jsonata, matches_jsonpath, parse_timestamp
from cadenza.interpreters.states.dataflow import dumps
from cadenza.interpreters.states.errors import StateFailure
from cadenza.interpreters.states.input_output import NOTHING, effective_input, finish

if TYPE_CHECKING:
    from cadenza.interpreters.states.runtime import Run
    from cadenza.interpreters.states.state import Thread

__all__ = [
    "execution_timed_out",
    "run_choice",
    "run_fail",
    "run_pass",
    "run_succeed",
    "run_wait",
    "wait_over",
]


def run_pass(run: Run, th: Thread) -> None:
    spec = run.spec(th)
    if run.definition.is_jsonata(spec):
        finish(run, th)
        return
    env = run.env(th)
    data = effective_input(run, th, env)
    if "Result" in spec:
        result = spec["Result"]
    elif "Parameters" in spec:
        result = env.render(spec["Parameters"], data)
    else:
        result = data
    finish(run, th, result)


def run_succeed(run: Run, th: Thread) -> None:
    spec = run.spec(th)
    effective = None if run.definition.is_jsonata(spec) else effective_input(run, th)
    finish(run, th, effective=effective, next_state=None)


def run_fail(run: Run, th: Thread) -> None:
    spec = run.spec(th)
    th["active"] = False
    if run.definition.is_jsonata(spec):
        env = run.env(th, {"input": th["input"]})
        error = env.jsonata(spec["Error"], "Error") if "Error" in spec else None
        cause = env.jsonata(spec["Cause"], "Cause") if "Cause" in spec else None
    else:
        env = run.env(th)
        error = spec.get("Error")
        cause = spec.get("Cause")
        if "ErrorPath" in spec:
            error = env.value_of(spec["ErrorPath"], th["input"], "ErrorPath")
        if "CausePath" in spec:
            cause = env.value_of(spec["CausePath"], th["input"], "CausePath")
    failure = StateFailure(
        None if error is None else str(error), None if cause is None else str(cause)
    )
    run.thread_failed(th, failure)


def run_choice(run: Run, th: Thread) -> None:
    spec = run.spec(th)
    if run.definition.is_jsonata(spec):
        env = run.env(th, {"input": th["input"]})
        for rule in spec.get("Choices") or []:
            if matches_jsonata(rule, env):
                finish(
                    run,
                    th,
                    next_state=str(rule["Next"]),
                    extra_assign=rule.get("Assign"),
                    extra_output=rule.get("Output", NOTHING),
                )
                return
        data = th["input"]
    else:
        env = run.env(th)
        data = effective_input(run, th, env)
        for rule in spec.get("Choices") or []:
            if matches_jsonpath(rule, data, env):
                finish(
                    run,
                    th,
                    effective=data,
                    next_state=str(rule["Next"]),
                    extra_assign=rule.get("Assign"),
                )
                return
    if "Default" in spec:
        finish(run, th, effective=data, next_state=str(spec["Default"]))
        return
    raise StateFailure(
        "States.NoChoiceMatched",
        f"No Matches! (state '{th['state']}')",
    )


def _wait_seconds(run: Run, th: Thread, data: Any) -> float:
    spec = run.spec(th)
    env = run.env(th, {"input": th["input"]})
    start = run.now
    if run.definition.is_jsonata(spec):
        if "Seconds" in spec:
            seconds = env.jsonata_typed(
                spec["Seconds"], "Seconds", "number", lambda v: isinstance(v, int | float)
            )
            return max(0.0, float(seconds))
        stamp_text = env.jsonata(spec.get("Timestamp"), "Timestamp")
        stamp = parse_timestamp(stamp_text)
        if stamp is None:
            raise env.failure(
                "States.QueryEvaluationError",
                "The Timestamp field cannot be parsed as an ISO-8601 extended offset "
                f"date-time format string: {stamp_text}",
                "Timestamp",
            )
        return max(0.0, stamp.timestamp() - start)
    if "Seconds" in spec:
        return max(0.0, float(spec["Seconds"]))
    if "Timestamp" in spec:
        stamp = parse_timestamp(spec["Timestamp"])
        return 0.0 if stamp is None else max(0.0, stamp.timestamp() - start)
    if "SecondsPath" in spec:
        path = str(spec["SecondsPath"])
        try:
            value = env.read(path, data)
        except jsonpath.PathNotFound:
            raise env.failure(
                "States.Runtime",
                f"The SecondsPath parameter does not reference an input value: {path}",
            ) from None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (isinstance(value, float) and not value.is_integer())
        ):
            raise env.failure(
                "States.Runtime",
                f"The SecondsPath parameter cannot be parsed as a long value: "
                f"{path} == {dumps(value)}",
            )
        if value < 0:
            raise env.failure(
                "States.Runtime",
                f"The SecondsPath parameter references a negative value: {path} == {value}",
            )
        return float(value)
    path = str(spec.get("TimestampPath"))
    try:
        value = env.read(path, data)
    except jsonpath.PathNotFound:
        raise env.failure(
            "States.Runtime",
            f"The TimestampPath parameter does not reference an input value: {path}",
        ) from None
    stamp = parse_timestamp(value)
    if stamp is None:
        raise env.failure(
            "States.Runtime",
            "The TimestampPath parameter does not reference a valid ISO-8601 extended "
            f"offset date-time format string: {path} == {value}",
        )
    return max(0.0, stamp.timestamp() - start)


def run_wait(run: Run, th: Thread) -> None:
    spec = run.spec(th)
    data = th["input"] if run.definition.is_jsonata(spec) else effective_input(run, th)
    seconds = _wait_seconds(run, th, data)
    th["wait_data"] = data
    run.timer(th, "wait", math.ceil(seconds * 1000) / 1000)


def wait_over(run: Run, th: Thread) -> None:
    """A Wait state's timer fired."""
    try:
        finish(run, th, effective=th.pop("wait_data", th["input"]))
    except StateFailure as failure:
        run.state_failed(th, failure)


def execution_timed_out(run: Run) -> None:
    """The machine's ``TimeoutSeconds`` passed: the execution ends TIMED_OUT."""
    if run.state["status"] != "RUNNING":
        return
    root = run.state["threads"].get("root")
    run.emit(
        root,
        "ExecutionTimedOut",
        "executionTimedOutEventDetails",
        {"error": "States.Timeout"},
    )
    run.state.update(
        {"status": "TIMED_OUT", "output": None, "error": "States.Timeout", "cause": None}
    )
