"""Edges worked out once per definition answer exactly as when worked out on demand."""

from __future__ import annotations

from cadenza.interpreters.orquesta.validation import TaskGraph, parse_definition

WORKFLOW = """
tasks:
  a:
    next:
      - when: <% succeeded() %>
        do: [b, c]
      - do: fail
  b:
    next:
      - do: d
  c:
    next:
      - do: d
  d:
    join: all
  other_start:
    next:
      - do: d
"""

NAMES = ["a", "b", "c", "d", "other_start", "fail", "missing"]


def _graph() -> TaskGraph:
    return TaskGraph(parse_definition(WORKFLOW).tasks)


def test_laid_out_edges_are_those_worked_out_on_demand() -> None:
    on_demand = _graph()
    laid_out = _graph()
    laid_out.lay_out()
    for name in NAMES:
        assert laid_out.next_edges(name) == on_demand.next_edges(name)
        assert laid_out.prev_edges(name) == on_demand.prev_edges(name)
        assert laid_out.join_requirement(name) == on_demand.join_requirement(name)


def test_a_caller_changing_the_edges_it_got_changes_nothing_kept() -> None:
    graph = _graph()
    graph.lay_out()
    graph.next_edges("a").clear()
    graph.prev_edges("d").clear()
    assert [e.target for e in graph.next_edges("a")] == ["b", "c", "fail"]
    assert [e.source for e in graph.prev_edges("d")] == ["b", "c", "other_start"]
