"""The task graph of a definition: edges, start tasks, reachability, splits and cycles.

Spec §4-§5 and §8. One transition with ``do: [a, b]`` is two edges; each edge carries the
transition's index (its ``ref``) and condition. Targets that are engine commands
(``continue``, ``fail``, ``noop``, ``retry``) or undefined names are kept as edges (the
conductor and the inspection both need to see them) but lead to no task.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

from cadenza.interpreters.orquesta.spec.model import ENGINE_COMMANDS, Task


@dataclass(frozen=True)
class Edge:
    """A transition from ``source`` to ``target`` (a task, an engine command or an
    undefined name), written as item ``ref`` of the source's ``next``."""

    source: str
    target: str
    ref: int
    when: str | None


class TaskGraph:
    """The edges between the tasks of one definition, and facts derived from them."""

    def __init__(self, tasks: Mapping[str, Task]) -> None:
        self.tasks = tasks
        self._outbound: dict[str, list[Edge]] = {name: [] for name in tasks}
        self._inbound: dict[str, list[Edge]] = {name: [] for name in tasks}
        for name, task in tasks.items():
            for transition in task.next:
                for target in transition.do:
                    edge = Edge(name, target, transition.index, transition.when)
                    self._outbound[name].append(edge)
                    if target in self._inbound:
                        self._inbound[target].append(edge)
        for edges in self._outbound.values():
            # Orquesta evaluates a task's edges in order of target name (spec §9.2).
            edges.sort(key=lambda e: (e.target, e.ref))

    def outbound(self, name: str) -> list[Edge]:
        """The edges leaving task ``name``, sorted by target name then transition index."""
        return list(self._outbound.get(name, ()))

    def inbound(self, name: str) -> list[Edge]:
        """The edges arriving at task ``name`` from any task, reachable or not."""
        return list(self._inbound.get(name, ()))

    def is_task(self, name: str) -> bool:
        """Whether ``name`` is a defined task that is not shadowing an engine command."""
        return name in self.tasks and name not in ENGINE_COMMANDS

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

    def is_split(self, name: str) -> bool:
        """Whether each arrival at ``name`` starts a new branch (spec §8): it is not a
        join, not in a cycle, and more than one edge points to it."""
        task = self.tasks.get(name)
        return (
            task is not None
            and not task.is_join
            and len(self._inbound[name]) > 1
            and not self.in_cycle(name)
        )

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
