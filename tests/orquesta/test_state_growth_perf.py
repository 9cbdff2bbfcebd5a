"""The Orquesta state grows by a constant amount per step, and its compact form replays.

These are size assertions, not timings: a state that holds every task's whole context
list grows with the square of the run's length (and so does the cost of each snapshot).
"""

from __future__ import annotations

import json
from typing import Any

from cadenza.interpreters.orquesta import contexts
from cadenza.interpreters.orquesta.frontend import OrquestaFrontEnd
from cadenza.interpreters.orquesta.interpreter import OrquestaInterpreter
from cadenza.model.commands import Command, ScheduleTask
from cadenza.model.events import Event, ExecutionStarted, TaskCompleted


def _sequential(n: int) -> str:
    lines = ["version: 1.0", "input:", "  - x", "tasks:"]
    for i in range(n):
        lines += [
            f"  s{i}:",
            "    action: core.noop",
            "    input:",
            "      x: <% ctx(x) %>",
            "    next:",
            "      - when: <% succeeded() %>",
            "        publish:",
            "          - x: <% result() + 1 %>",
        ]
        if i < n - 1:
            lines.append(f"        do: s{i + 1}")
    lines += ["output:", "  - x: <% ctx(x) %>"]
    return "\n".join(lines)


LOOP = """
version: 1.0
input:
  - n
  - i: 0
tasks:
  init:
    next:
      - do: step
  step:
    action: core.noop
    next:
      - when: <% ctx(i) < ctx(n) - 1 %>
        publish:
          - i: <% ctx(i) + 1 %>
          - d: {"k<% ctx(i) %>": 1}
        do: step
output:
  - i: <% ctx(i) %>
"""

# Two branches that publish into the same mapping and meet at a join, in a loop: the
# join's context depends on the order of the merges (spec §9.3, §9.4).
JOIN_LOOP = """
version: 1.0
input:
  - n
  - i: 0
  - d: {"base": 0}
tasks:
  init:
    next:
      - do: split
  split:
    action: core.noop
    next:
      - publish:
          - d: {"split": <% ctx(i) %>}
        do: [left, right]
  left:
    action: core.noop
    next:
      - publish:
          - d: 5
          - tag: left
        do: meet
  right:
    action: core.noop
    next:
      - publish:
          - d: {"right": <% ctx(i) %>}
        do: meet
  meet:
    join: all
    action: core.noop
    next:
      - when: <% ctx(i) < ctx(n) - 1 %>
        publish:
          - i: <% ctx(i) + 1 %>
        do: split
output:
  - i: <% ctx(i) %>
  - d: <% ctx(d) %>
  - tag: <% ctx(tag) %>
"""


def _drive(
    interpreter: OrquestaInterpreter,
    inputs: dict[str, Any],
    reload: bool = False,
    on_step: Any = None,
) -> tuple[list[str], Any]:
    """Run to the end, each action answering its input back; the log of commands."""
    state: Any = interpreter.new_state()
    log: list[str] = []
    pending: list[Event] = [ExecutionStarted(input=inputs, seed=3)]
    step = 0
    while pending:
        commands: list[Command] = interpreter.decide(state, pending, 0.0)
        log.append(repr(commands))
        step += 1
        if on_step is not None:
            state = on_step(step, state)
        if reload:
            state = interpreter.load_state(json.loads(json.dumps(interpreter.dump_state(state))))
        pending = [
            TaskCompleted(task_id=c.task_id, result=(c.input or {}).get("x", 0))
            for c in commands
            if isinstance(c, ScheduleTask)
        ]
    return log, state


def _size(interpreter: OrquestaInterpreter, state: Any) -> int:
    return len(json.dumps(interpreter.dump_state(state)))


def test_sequential_state_grows_linearly() -> None:
    sizes = {}
    for n in (60, 120):
        interpreter = OrquestaFrontEnd().compile(_sequential(n))
        _, state = _drive(interpreter, {"x": 0})
        assert state["output"] == {"x": n}
        sizes[n] = _size(interpreter, state)
    assert sizes[120] / sizes[60] < 2.3


def test_loop_state_grows_linearly() -> None:
    interpreter = OrquestaFrontEnd().compile(LOOP)
    sizes = {}
    for n in (150, 300):
        _, state = _drive(interpreter, {"n": n})
        assert state["output"]["i"] == n - 1
        sizes[n] = _size(interpreter, state)
    assert sizes[300] / sizes[150] < 2.3


def test_join_loop_same_with_snapshots_each_step() -> None:
    interpreter = OrquestaFrontEnd().compile(JOIN_LOOP)
    live, state = _drive(interpreter, {"n": 4})
    reloaded, _ = _drive(interpreter, {"n": 4}, reload=True)
    assert live == reloaded
    # The join applies the left list, then the right list without the initial context:
    # the split's mapping replaces left's scalar again before right's mapping merges in.
    assert state["output"] == {"i": 3, "d": {"split": 3, "right": 3}, "tag": "left"}


def _plain_lists(state: dict[str, Any]) -> dict[str, Any]:
    """``state`` in the shape saved before chains: literal context lists, no counters."""
    old = json.loads(json.dumps(state))
    for holder in [e["ctxs"] for e in old["sequence"] + old["staged"]]:
        holder["in"] = contexts.indexes(state, holder["in"])
    for key in ("chains", "counts", "active"):
        del old[key]
    return old


def test_state_saved_with_plain_lists_loads_and_continues() -> None:
    interpreter = OrquestaFrontEnd().compile(JOIN_LOOP)
    live, _ = _drive(interpreter, {"n": 3})

    def downgrade(step: int, state: Any) -> Any:
        return interpreter.load_state(_plain_lists(state)) if step % 2 else state

    upgraded, final = _drive(interpreter, {"n": 3}, on_step=downgrade)
    assert live == upgraded
    assert final["output"] == {"i": 2, "d": {"split": 2, "right": 2}, "tag": "left"}
