"""The one task graph, as the conductor reads it: keyed edges, joins, retry policies."""

from __future__ import annotations

from cadenza.interpreters.orquesta.validation import Retry, TaskGraph, parse_definition

# Read without checks: a name repeated in one `do` is refused by the schema, but the
# graph must still lay it out the way Orquesta's composer does.
WORKFLOW = """
tasks:
  a:
    next:
      - when: <% succeeded() %>
        do: [b, b, fail]
      - do: b
      - when: <% failed() %>
        do: retry
  b:
    join: all
  c:
    next:
      - do: b
  orphan:
    next:
      - do: [orphan, b]
"""


def _graph() -> TaskGraph:
    return TaskGraph(parse_definition(WORKFLOW).tasks)


def test_edges_between_two_tasks_are_keyed_and_repeats_in_one_do_are_one_edge() -> None:
    graph = _graph()
    ids = [(e.transition_id, e.ref) for e in graph.next_edges("a")]
    assert ids == [("b__t0", 0), ("b__t1", 1), ("fail__t0", 0)]
    # The unreachable task cannot satisfy the join; the inspection still sees its edge.
    assert [e.backref for e in graph.prev_edges("b")] == ["a__t0", "a__t1", "c__t0"]
    assert {e.source for e in graph.inbound("b")} == {"a", "c", "orphan"}
    assert [e.source for e in graph.prev_edges("fail")] == ["a"]


def test_join_all_counts_distinct_reachable_sources() -> None:
    graph = _graph()
    assert graph.is_join("b") and not graph.is_join("fail")
    assert graph.join_requirement("b") == 2
    assert graph.join_requirement("a") == 1


def test_do_retry_is_a_retry_policy_not_an_edge() -> None:
    task = parse_definition(WORKFLOW).tasks["a"]
    assert task.retry_policy == Retry(count=3, when="<% failed() %>", delay=None)
    assert all(e.target != "retry" for e in _graph().next_edges("a"))
