"""The workflow graph of an Orquesta definition: start tasks, edges, splits, cycles, joins.

Built once per definition from the normalised definition mapping, the way Orquesta's
native composer builds it: a breadth-first walk from the start tasks, one edge per task
named in a transition's ``do`` (engine commands included), edges between the same two
tasks told apart by a ``key`` (0, 1, ...). ``do: retry`` adds no edge but a retry policy.
Unreachable tasks are not in the graph.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ENGINE_COMMANDS = frozenset({"continue", "fail", "noop", "retry"})
"""Reserved names of ``do`` that are not tasks."""

JOIN_ALL = -1
"""``barrier`` value of a ``join: all`` task."""


@dataclass(frozen=True)
class Edge:
    """One arrow ``source -> target``, from transition number ``ref`` of ``source``."""

    source: str
    target: str
    key: int
    ref: int
    criteria: tuple[str, ...]

    @property
    def transition_id(self) -> str:
        """Orquesta's id of the edge as seen from its source: ``"<target>__t<key>"``."""
        return f"{self.target}__t{self.key}"

    @property
    def backref(self) -> str:
        """The id of the edge as seen from its target: ``"<source>__t<key>"``."""
        return f"{self.source}__t{self.key}"


@dataclass
class WorkflowGraph:
    """Tasks reachable from the start tasks and the edges between them."""

    start_tasks: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    outbound: dict[str, list[Edge]] = field(default_factory=dict)
    inbound: dict[str, list[Edge]] = field(default_factory=dict)
    barriers: dict[str, int] = field(default_factory=dict)
    retries: dict[str, dict[str, Any]] = field(default_factory=dict)
    splits: frozenset[str] = frozenset()

    def next_edges(self, task: str) -> list[Edge]:
        """Outbound edges in evaluation order: by target name, then key."""
        return self.outbound.get(task, [])

    def prev_edges(self, task: str) -> list[Edge]:
        return self.inbound.get(task, [])

    def is_join(self, task: str) -> bool:
        return task in self.barriers

    def join_requirement(self, task: str) -> int:
        """How many distinct inbound tasks a join needs (``join: 0`` counts as 1)."""
        barrier = self.barriers.get(task, 1)
        if barrier == JOIN_ALL:
            return len({e.source for e in self.prev_edges(task)})
        return barrier or 1

    def starts_route(self, task: str) -> bool:
        """Whether arriving at ``task`` opens a new route (a split task outside cycles)."""
        return task in self.splits


def _transitions(task_spec: Mapping[str, Any]) -> list[tuple[str, str | None, int]]:
    """``(next task, when, transition index)`` of a task, sorted by next task name."""
    found: list[tuple[str, str | None, int]] = []
    for index, transition in enumerate(task_spec.get("next") or []):
        names = transition.get("do") or "continue"
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        for name in names:
            found.append((name, transition.get("when") or None, index))
    return sorted(found, key=lambda t: t[0])


def _in_cycle(tasks: Mapping[str, Mapping[str, Any]], task: str) -> bool:
    seen: set[str] = set()
    queue = deque(name for name, _, _ in _transitions(tasks.get(task) or {}))
    while queue:
        name = queue.popleft()
        if name == task:
            return True
        if name in seen:
            continue
        seen.add(name)
        queue.extend(n for n, _, _ in _transitions(tasks.get(name) or {}))
    return False


def build_graph(definition: Mapping[str, Any]) -> WorkflowGraph:
    """The graph of a normalised definition (``tasks`` is a mapping of task specs)."""
    tasks: Mapping[str, Mapping[str, Any]] = definition.get("tasks") or {}
    inbound_counts: dict[str, int] = {}
    for spec in tasks.values():
        for name, _, _ in _transitions(spec):
            inbound_counts[name] = inbound_counts.get(name, 0) + 1

    graph = WorkflowGraph()
    graph.start_tasks = sorted(name for name in tasks if not inbound_counts.get(name))
    cycles = {name: _in_cycle(tasks, name) for name in tasks}
    graph.splits = frozenset(
        name
        for name, spec in tasks.items()
        if spec.get("join") is None and inbound_counts.get(name, 0) > 1 and not cycles[name]
    )

    seen: set[str] = set()
    queue = deque(graph.start_tasks)
    edges: dict[tuple[str, str], list[Edge]] = {}
    while queue:
        task = queue.popleft()
        if task in seen:
            continue
        seen.add(task)
        graph.tasks.append(task)
        spec = tasks.get(task) or {}
        if spec.get("join") is not None:
            join = spec["join"]
            graph.barriers[task] = JOIN_ALL if join == "all" else int(join)
        retry = spec.get("retry")
        if retry:
            graph.retries[task] = {
                "when": retry.get("when"),
                "count": retry.get("count"),
                "delay": retry.get("delay"),
            }
        for target, when, ref in _transitions(spec):
            if target == "retry":
                graph.retries[task] = {
                    "when": when or "<% completed() %>",
                    "count": 3,
                    "delay": None,
                }
                continue
            criteria = (when,) if when else ()
            pair = edges.setdefault((task, target), [])
            if not any(e.criteria == criteria and e.ref == ref for e in pair):
                pair.append(Edge(task, target, len(pair), ref, criteria))
            queue.append(target)

    for pair in edges.values():
        for edge in pair:
            graph.outbound.setdefault(edge.source, []).append(edge)
            graph.inbound.setdefault(edge.target, []).append(edge)
    for task in graph.outbound:
        graph.outbound[task].sort(key=lambda e: (e.target, e.key))
    for task in graph.inbound:
        graph.inbound[task].sort(key=lambda e: (e.source, e.key))
    return graph
