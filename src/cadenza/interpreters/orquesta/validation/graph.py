"""The task graph of a definition: edges, start tasks, reachability, splits, cycles, joins.

Spec §4-§5 and §8. One transition with ``do: [a, b]`` is two edges; each edge carries the
transition's index (its ``ref``) and condition. Targets that are engine commands
(``continue``, ``fail``, ``noop``, ``retry``) or undefined names are kept as edges (the
conductor and the inspection both need to see them) but lead to no task.

The inspection reads every edge (:meth:`TaskGraph.outbound`, :meth:`TaskGraph.inbound`);
the conductor reads them the way Orquesta's composer lays them out
(:meth:`TaskGraph.next_edges`, :meth:`TaskGraph.prev_edges`): from reachable tasks only,
a name repeated in one ``do`` once, ``do: retry`` not at all (it is a retry policy, see
:attr:`~cadenza.interpreters.orquesta.validation.model.Task.retry_policy`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

from cadenza.interpreters.orquesta.validation.model import ENGINE_COMMANDS, Task


@dataclass(frozen=True)
class Edge:
    """A transition from ``source`` to ``target`` (a task, an engine command or an
    undefined name), written as item ``ref`` of the source's ``next``."""

    source: str
    target: str
    ref: int
    when: str | None
    #: Tells apart the edges between the same two names: 0, 1, ... in evaluation order.
    #: A name repeated in one ``do`` gives edges with the same key.
    key: int = 0

    # Cached: the conductor asks for both at every step, and the fields never change
    # (frozen); ``cached_property`` writes the instance dict, which frozen allows.
    @cached_property
    def transition_id(self) -> str:
        """Orquesta's id of the edge as seen from its source: ``"<target>__t<key>"``."""
        return f"{self.target}__t{self.key}"

    @cached_property
    def backref(self) -> str:
        """The id of the edge as seen from its target: ``"<source>__t<key>"``."""
        return f"{self.source}__t{self.key}"


class TaskGraph:
    """The edges between the tasks of one definition, and facts derived from them."""

    def __init__(self, tasks: Mapping[str, Task]) -> None:
        self.tasks = tasks
        self._outbound: dict[str, list[Edge]] = {name: [] for name in tasks}
        self._inbound: dict[str, list[Edge]] = {name: [] for name in tasks}
        # The conductor asks for the same task's edges at every step: kept once worked out.
        self._next_edges: dict[str, list[Edge]] = {}
        self._prev_edges: dict[str, list[Edge]] = {}
        for name, task in tasks.items():
            found = [(target, transition) for transition in task.next for target in transition.do]
            # Orquesta evaluates a task's edges in order of target name (spec §9.2); the
            # sort is stable, so edges to one target keep their written order.
            found.sort(key=lambda pair: (pair[0], pair[1].index))
            keys: dict[str, list[int]] = {}
            for target, transition in found:
                refs = keys.setdefault(target, [])
                if transition.index not in refs:
                    refs.append(transition.index)
                key = refs.index(transition.index)
                edge = Edge(name, target, transition.index, transition.when, key)
                self._outbound[name].append(edge)
                # Commands and undefined names get inbound edges too: the conductor
                # stages them like tasks before running them.
                self._inbound.setdefault(target, []).append(edge)

    def lay_out(self) -> None:
        """Work out every task's conductor edges now, once for the definition: a
        long run would otherwise do it for each task as its step comes."""
        for name in self.tasks:
            self.next_edges(name)
            self.prev_edges(name)

    def outbound(self, name: str) -> list[Edge]:
        """The edges leaving task ``name``, sorted by target name then transition index."""
        return list(self._outbound.get(name, ()))

    def inbound(self, name: str) -> list[Edge]:
        """The edges arriving at ``name`` from any task, reachable or not."""
        return list(self._inbound.get(name, ()))

    def next_edges(self, name: str) -> list[Edge]:
        """The edges the conductor evaluates when ``name`` completes, in order: one per
        transition and target, ``do: retry`` left out."""
        found = self._next_edges.get(name)
        if found is None:
            found = _distinct(e for e in self.outbound(name) if e.target != "retry")
            self._next_edges[name] = found
        return list(found)

    def prev_edges(self, name: str) -> list[Edge]:
        """The edges that can satisfy ``name``: from reachable tasks, one per transition
        and source, sorted by source then key."""
        found = self._prev_edges.get(name)
        if found is None:
            edges = _distinct(e for e in self.inbound(name) if e.source in self.reachable)
            found = sorted(edges, key=lambda e: (e.source, e.key))
            self._prev_edges[name] = found
        return list(found)

    def is_task(self, name: str) -> bool:
        """Whether ``name`` is a defined task that is not shadowing an engine command."""
        return name in self.tasks and name not in ENGINE_COMMANDS

    def is_join(self, name: str) -> bool:
        """Whether ``name`` is a task that waits for its inbound branches."""
        task = self.tasks.get(name)
        return task is not None and task.is_join

    def join_requirement(self, name: str) -> int:
        """How many distinct inbound tasks must lead to ``name`` (``join: 0`` counts as 1,
        ``join: all`` is every reachable task with an edge to it)."""
        task = self.tasks.get(name)
        join = task.join if task is not None else None
        if join == "all":
            return len({e.source for e in self.prev_edges(name)})
        return join if isinstance(join, int) and join > 0 else 1

    def successors(self, name: str) -> list[str]:
        """The tasks that ``name`` has an edge to (no commands, no undefined names)."""
        return sorted({e.target for e in self.outbound(name) if self.is_task(e.target)})

    @cached_property
    def start_tasks(self) -> list[str]:
        """The tasks no transition points to, sorted by name (spec §5)."""
        return sorted(name for name in self.tasks if not self._inbound[name])

    @cached_property
    def reachable(self) -> frozenset[str]:
        """The tasks that can run: those reachable from a start task."""
        return frozenset(self._closure(self.start_tasks))

    def in_cycle(self, name: str) -> bool:
        """Whether ``name`` can reach itself again."""
        return name in self._closure(self.successors(name))

    @cached_property
    def splits(self) -> frozenset[str]:
        """The tasks where each arrival starts a new branch (route), see :meth:`is_split`."""
        return frozenset(
            name
            for name, task in self.tasks.items()
            if not task.is_join and len(self._inbound[name]) > 1 and not self.in_cycle(name)
        )

    def is_split(self, name: str) -> bool:
        """Whether each arrival at ``name`` starts a new branch (spec §8): it is not a
        join, not in a cycle, and more than one edge points to it."""
        return name in self.splits

    def _closure(self, roots: Iterable[str]) -> set[str]:
        """``roots`` and every task reachable from them."""
        seen: set[str] = set(roots)
        stack = list(seen)
        while stack:
            for successor in self.successors(stack.pop()):
                if successor not in seen:
                    seen.add(successor)
                    stack.append(successor)
        return seen


def _distinct(edges: Iterable[Edge]) -> list[Edge]:
    """``edges`` without repeats of one target in one transition (same key)."""
    seen: set[tuple[str, str, int]] = set()
    kept: list[Edge] = []
    for edge in edges:
        if (edge.source, edge.target, edge.key) not in seen:
            seen.add((edge.source, edge.target, edge.key))
            kept.append(edge)
    return kept
