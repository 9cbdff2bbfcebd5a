"""A state's input and output processing, shared by every state type.

:func:`effective_input` applies ``InputPath`` (JSONPath mode); :func:`finish`
applies the output fields to the state's result and leaves the state:
``ResultSelector``, ``ResultPath``, ``OutputPath`` and ``Assign`` in JSONPath
mode, ``Output`` and ``Assign`` in JSONata mode.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cadenza.interpreters.states.dataflow import Env, dumps
from cadenza.interpreters.states.errors import StateFailure

if TYPE_CHECKING:
    from cadenza.interpreters.states.runtime import Run
    from cadenza.interpreters.states.state import Thread

__all__ = ["NOTHING", "effective_input", "finish"]

#: The default of :func:`finish`'s optional arguments: "not given" (``None`` is a value).
NOTHING: Any = object()


def effective_input(run: Run, th: Thread, env: Env | None = None) -> Any:
    """JSONPath mode: the state input after ``InputPath``."""
    spec = run.spec(th)
    if "InputPath" not in spec:
        return th["input"]
    return (env or run.env(th)).select_field(spec["InputPath"], th["input"], "InputPath")


def finish(
    run: Run,
    th: Thread,
    result: Any = NOTHING,
    *,
    effective: Any = NOTHING,
    next_state: Any = NOTHING,
    extra_assign: dict[str, Any] | None = None,
    extra_output: Any = NOTHING,
) -> None:
    """Apply the state's output fields to ``result`` (or pass ``effective`` on) and leave.

    JSONPath: ResultSelector, ResultPath, OutputPath and Assign. JSONata: Output
    and Assign with ``$states.input``/``$states.result``.
    """
    spec = run.spec(th)
    target = run.next_of(spec) if next_state is NOTHING else next_state
    assigned: dict[str, Any] | None = None
    if run.definition.is_jsonata(spec):
        states: dict[str, Any] = {"input": th["input"]}
        if result is not NOTHING:
            states["result"] = result
        env = run.env(th, states)
        for block, where in ((spec.get("Assign"), "Assign"), (extra_assign, "Assign")):
            if block is not None:
                assigned = {**(assigned or {}), **env.jsonata(block, where)}
        output_spec = spec.get("Output", NOTHING) if extra_output is NOTHING else extra_output
        if output_spec is not NOTHING:
            output = env.jsonata(output_spec, "Output")
        else:
            output = th["input"] if result is NOTHING else result
    else:
        env = run.env(th)
        if result is NOTHING:
            output = effective
            assign_source = effective
        else:
            if "ResultSelector" in spec:
                result = env.render(spec["ResultSelector"], result)
            assign_source = result
            output = env.put_result(
                spec.get("ResultPath"), th["input"], result, absent="ResultPath" not in spec
            )
        for block in (spec.get("Assign"), extra_assign):
            if block is not None:
                assigned = {**(assigned or {}), **env.assign_jsonpath(block, assign_source)}
        if "OutputPath" in spec:
            output = env.select_field(spec["OutputPath"], output, "OutputPath")
    limit = run.definition.payload_limit
    if limit is not None and len(dumps(output).encode()) > limit:
        raise StateFailure(
            "States.DataLimitExceeded",
            f"The state/task '{th['state']}' returned a result with a size exceeding the "
            "maximum number of bytes service limit.",
        )
    run.leave(th, output, assigned, target)
