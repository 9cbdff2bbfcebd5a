"""Orquesta definitions of the workloads, generated for any size.

Generated rather than checked in because W6 needs 10,000-task chains; the
shapes are fixed here and described in bench/README.md.
"""

from __future__ import annotations


def chain(steps: int) -> str:
    """W1/W3/W6: ``steps`` tasks in a row; each gets the previous value + 1.

    The value travels the way an Orquesta author would write it: ``input``
    reads ``ctx().v`` and the transition ``publish``es the result back.
    """
    lines = ["version: 1.0", "input:", "  - v: 0", "tasks:"]
    for i in range(1, steps + 1):
        lines += [
            f"  s{i}:",
            "    action: bench.inc",
            "    input:",
            "      value: <% ctx().v %>",
            "    next:",
            "      - when: <% succeeded() %>",
            "        publish:",
            "          - v: <% result() %>",
        ]
        if i < steps:
            lines.append(f"        do: s{i + 1}")
    lines += ["output:", "  - v: <% ctx().v %>", ""]
    return "\n".join(lines)


def fan_out(width: int) -> str:
    """W2: one with-items task over ``width`` items, then one summing task.

    ``with-items`` without ``concurrency`` schedules every item at once; the
    engine's worker pool bounds how many run together.
    """
    return f"""version: 1.0
tasks:
  fan:
    with:
      items: x in <% range({width}) %>
    action: bench.ident
    input:
      value: <% item(x) %>
    next:
      - when: <% succeeded() %>
        publish:
          - results: <% result() %>
        do: fan_in
  fan_in:
    action: bench.total
    input:
      values: <% ctx().results %>
    next:
      - when: <% succeeded() %>
        publish:
          - total: <% result() %>
output:
  - total: <% ctx().total %>
"""


def slow_chain(steps: int, ms: float) -> str:
    """W5: ``steps`` tasks in a row, each sleeping ``ms`` milliseconds."""
    lines = ["version: 1.0", "tasks:"]
    for i in range(1, steps + 1):
        lines += [f"  s{i}:", f"    action: bench.slow index={i} ms={ms}"]
        if i < steps:
            lines += ["    next:", "      - when: <% succeeded() %>", f"        do: s{i + 1}"]
    lines += ["output:", f"  - steps: {steps}", ""]
    return "\n".join(lines)


def tiny() -> str:
    """W4: the smallest useful run, one built-in no-op task."""
    return "version: 1.0\ntasks:\n  only:\n    action: core.noop\n"
