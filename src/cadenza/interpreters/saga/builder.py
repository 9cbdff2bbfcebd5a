"""Writing a saga in Python: nodes, and a builder that appends them in stages.

::

    from cadenza.interpreters.saga import SagaBuilder, action, constant, subsaga

    def allocate_ip(name: str) -> dict: ...
    def release_ip(input: dict, output: dict) -> None: ...

    builder = SagaBuilder("provision-vm", params=["name"])
    builder.append(action("ip", do=allocate_ip, undo=release_ip,
                          input={"name": "${params.name}"}))
    builder.append_parallel(
        action("disk", do="vm.create_disk", undo="vm.delete_disk"),
        constant("size", 10),
    )
    builder.append(action("boot", do="vm.boot", input={"ip": "${nodes.ip.address}"}))
    PROVISION = builder.build()

``append`` adds one node that depends on every node of the previous stage;
``append_parallel`` adds several that each do (a fan-out), and the next stage
depends on all of them (a join), as Steno's ``DagBuilder``. ``build`` checks
the whole saga and raises ``DefinitionError`` listing every problem.

``do`` and ``undo`` name registered activities, or are Python callables:
a callable is named ``module.qualname`` and kept in ``Saga.activities``;
``Saga.register_activities(registry)`` registers them, in every process that
runs the saga's actions. A built saga is registered with the engine by code
reference (``CodeReference("pkg.sagas:PROVISION", version="1")``) or as its
document (``Saga.document``, the same data the YAML form holds).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cadenza.model.errors import DefinitionError, Problem
from cadenza.model.events import JSON
from cadenza.model.retry import RetryPolicy

from .graph import ACTIVITY_NAME, SagaGraph, build_graph

#: What ``do``/``undo`` accept: an activity name, or a Python callable.
ActivityLike = str | Callable[..., Any]


@dataclass(frozen=True)
class Node:
    """A node of a saga being built: its document form and the callables it names."""

    document: Mapping[str, JSON]
    activities: Mapping[str, Callable[..., Any]] = field(default_factory=dict)


def action(
    name: str,
    *,
    do: ActivityLike,
    undo: ActivityLike | None = None,
    input: Mapping[str, JSON] | None = None,
    undo_input: Mapping[str, JSON] | None = None,
    retry: RetryPolicy | None = None,
    undo_retry: RetryPolicy | None = None,
    timeout: float | None = None,
    undo_timeout: float | None = None,
) -> Node:
    """An action node: ``do`` runs going forward, ``undo`` reverts it when the saga unwinds.

    ``input`` may reference ``${params...}`` and ``${nodes.NAME...}`` (see
    :mod:`cadenza.interpreters.saga.references`). ``undo`` receives
    ``undo_input`` if given (where ``${nodes.<this node>}`` is the action's
    own output), else ``{"input": <the action's input>, "output": <its output>}``.
    Without ``undo`` the node has nothing to revert. ``retry``/``timeout``
    are off unless given; an undo is retried with capped backoff until it
    succeeds unless ``undo_retry`` limits it.
    """
    activities: dict[str, Callable[..., Any]] = {}
    document: dict[str, JSON] = {"action": name, "do": _activity(do, activities)}
    if undo is not None:
        document["undo"] = _activity(undo, activities)
    if input is not None:
        document["input"] = copy.deepcopy(dict(input))
    if undo_input is not None:
        document["undo_input"] = copy.deepcopy(dict(undo_input))
    for key, policy in (("retry", retry), ("undo_retry", undo_retry)):
        if policy is not None:
            document[key] = {
                k: v
                for k, v in policy.to_dict().items()
                if k in ("max_attempts", "initial_delay", "backoff", "max_delay")
            }
    for key, seconds in (("timeout", timeout), ("undo_timeout", undo_timeout)):
        if seconds is not None:
            document[key] = seconds
    return Node(document, activities)


def constant(name: str, value: JSON) -> Node:
    """A node whose output is ``value``, fixed when the saga is built; nothing to undo."""
    return Node({"constant": name, "value": copy.deepcopy(value)})


def subsaga(name: str, saga: Saga, *, params: str | None = None) -> Node:
    """``saga`` inlined as one node: its parameters are the output of the node
    named ``params`` (an earlier stage's), or the enclosing saga's parameters;
    its output is the output of its last node."""
    document: dict[str, JSON] = {"subsaga": name, "stages": copy.deepcopy(saga.document["stages"])}
    if params is not None:
        document["params"] = params
    return Node(document, dict(saga.activities))


@dataclass(frozen=True)
class Saga:
    """A checked saga: its document, its graph, and the Python callables it runs."""

    document: Mapping[str, JSON]
    graph: SagaGraph
    activities: Mapping[str, Callable[..., Any]]

    @property
    def name(self) -> str:
        return self.graph.name

    def register_activities(self, registry: Any, *, replace: bool = True) -> None:
        """Register the saga's Python callables in an ``ActivityRegistry``."""
        for name, fn in sorted(self.activities.items()):
            registry.register(name, fn, replace=replace)


class SagaBuilder:
    """Appends a saga's stages; see the module docstring."""

    def __init__(
        self,
        name: str,
        *,
        params: Sequence[str] = (),
        version: str | None = None,
        description: str = "",
        max_parallel: int | None = None,
    ) -> None:
        self.name = name
        self.params = list(params)
        self.version = version
        self.description = description
        self.max_parallel = max_parallel
        self._stages: list[JSON] = []
        self._activities: dict[str, Callable[..., Any]] = {}
        self._problems: list[Problem] = []

    def append(self, node: Node) -> SagaBuilder:
        """Add ``node`` as a stage of its own (it depends on the whole previous stage)."""
        self._take(node, f"stages[{len(self._stages)}]")
        self._stages.append(dict(node.document))
        return self

    def append_parallel(self, *nodes: Node) -> SagaBuilder:
        """Add ``nodes`` as one stage: each depends on the previous stage, the next on all."""
        where = f"stages[{len(self._stages)}]"
        for i, node in enumerate(nodes):
            self._take(node, f"{where}.parallel[{i}]")
        self._stages.append({"parallel": [dict(n.document) for n in nodes]})
        return self

    def build(self) -> Saga:
        """The checked saga; ``DefinitionError`` lists every problem."""
        document: dict[str, JSON] = {"saga": self.name, "stages": copy.deepcopy(self._stages)}
        if self.params:
            document["params"] = list(self.params)
        if self.version is not None:
            document["version"] = self.version
        if self.description:
            document["description"] = self.description
        if self.max_parallel is not None:
            document["max_parallel"] = self.max_parallel
        try:
            graph = build_graph(document, origin=self.name)
        except DefinitionError as exc:
            problems = sorted(set(self._problems) | set(exc.problems))
            raise DefinitionError(problems=problems, source=self.name) from None
        if self._problems:
            raise DefinitionError(problems=sorted(set(self._problems)), source=self.name)
        return Saga(document, graph, dict(self._activities))

    def _take(self, node: Node, where: str) -> None:
        if not isinstance(node, Node):
            self._problems.append(
                Problem(where, f"append action(), constant() or subsaga() nodes, not {node!r}")
            )
            return
        for name, fn in node.activities.items():
            known = self._activities.get(name)
            if known is not None and known is not fn:
                self._problems.append(Problem(where, f"two callables are named {name!r}"))
            self._activities[name] = fn


def _activity(given: ActivityLike, activities: dict[str, Callable[..., Any]]) -> str:
    if isinstance(given, str):
        return given
    name = f"{getattr(given, '__module__', '')}.{getattr(given, '__qualname__', '')}"
    if not ACTIVITY_NAME.fullmatch(name):
        raise DefinitionError(
            problems=[
                Problem(
                    "",
                    f"{given!r} cannot be named for the activity registry ({name!r}); define "
                    "it at module level, or register it yourself and pass its name",
                )
            ]
        )
    activities[name] = given
    return name
