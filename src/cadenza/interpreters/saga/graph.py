"""A saga's graph: the checked, flattened form both the YAML and the Python form become.

A saga document (parsed YAML/JSON, or what :class:`~.builder.SagaBuilder`
writes) is a list of *stages*. A stage is one node, or ``{"parallel": [...]}``
of several; every node of a stage depends on every node of the stage before
(a full barrier, as Steno's ``DagBuilder``). Nodes are:

* ``{"action": NAME, "do": ACTIVITY, "undo": ACTIVITY?, "input": {...}?, ...}``
* ``{"constant": NAME, "value": JSON}``
* ``{"subsaga": NAME, "params": NODE?, "stages": [...]}`` — inlined here.

``build_graph`` checks a document, collecting every problem with its path,
and flattens it into :class:`SagaGraph`: a ``start`` node (index 0), the
nodes in stage order, subsagas inlined between a ``subsaga_start`` and a
``subsaga_end`` node, and an ``end`` node (the last index). Node indices are
stable for a given document, and the interpreter's state refers to nodes by
index, which is why a running saga must finish on the graph it started with
(the engine keeps each definition's text under its own id).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cadenza.model.errors import DefinitionError, Problem
from cadenza.model.events import JSON
from cadenza.model.retry import RetryPolicy

from . import references

#: Node names: used in ``${nodes.NAME}`` references and in task ids.
NODE_NAME = re.compile(r"[A-Za-z0-9_\-]+")
#: Activity names as the activity registry accepts them.
ACTIVITY_NAME = re.compile(r"[A-Za-z0-9_\-:/$]+(?:\.[A-Za-z0-9_\-:/$]+)*")

TOP_KEYS = ("description", "max_parallel", "params", "saga", "stages", "version")
ACTION_KEYS = (
    "action",
    "do",
    "input",
    "retry",
    "timeout",
    "undo",
    "undo_input",
    "undo_retry",
    "undo_timeout",
)
CONSTANT_KEYS = ("constant", "value")
SUBSAGA_KEYS = ("params", "stages", "subsaga")
RETRY_KEYS = ("backoff", "initial_delay", "max_attempts", "max_delay")

#: Node kinds. Only ``action`` nodes run activities; the others are decided
#: in place, as Steno runs its internal nodes as trivial actions.
START, END, ACTION, CONSTANT, SUBSAGA_START, SUBSAGA_END = (
    "start",
    "end",
    "action",
    "constant",
    "subsaga_start",
    "subsaga_end",
)


@dataclass(frozen=True)
class Step:
    """How one side of an action node runs: its activity, input, retries, timeout."""

    activity: str
    input: JSON
    retry: RetryPolicy | None = None
    timeout: float | None = None


@dataclass(frozen=True)
class GraphNode:
    """One node of the flattened graph."""

    index: int
    kind: str
    #: The name as written (unique within its saga or subsaga).
    name: str
    #: The name qualified by enclosing subsagas (``attach/create_nic``): unique in the graph.
    path: str
    parents: tuple[int, ...]
    #: Where the node is written in the document, for messages.
    spec_path: str
    do: Step | None = None
    undo: Step | None = None
    #: A constant's value.
    value: JSON = None
    #: For ``subsaga_start``: the node whose output is the subsaga's parameters
    #: (None: the enclosing saga's parameters).
    params_from: int | None = None
    #: For inner nodes: the index of their subsaga's ``subsaga_start``; for the
    #: others, -1. Parameters seen by a node are its scope's parameters.
    scope: int = -1
    #: Names this node may read (``${nodes.NAME}``): its ancestors in its scope.
    visible: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class SagaGraph:
    """A checked saga: its nodes in index order, with children and metadata."""

    name: str
    version: str | None
    description: str
    params: tuple[str, ...]
    max_parallel: int | None
    nodes: tuple[GraphNode, ...]
    children: tuple[tuple[int, ...], ...]
    #: A digest of the document: recorded when an execution starts.
    digest: str

    @property
    def end(self) -> int:
        """The index of the end node."""
        return len(self.nodes) - 1


def build_graph(document: JSON, origin: str | None = None) -> SagaGraph:
    """Check ``document`` and flatten it; ``DefinitionError`` lists every problem."""
    builder = _GraphBuilder()
    if not isinstance(document, Mapping):
        raise DefinitionError(
            problems=[
                Problem("", f"a saga is a mapping with 'saga' and 'stages', not {_kind(document)}")
            ],
            source=origin,
        )
    problems = builder.problems
    for key in sorted(set(document) - set(TOP_KEYS)):
        problems.append(Problem(key, f"unknown key (known: {', '.join(TOP_KEYS)})"))
    name = document.get("saga")
    if not isinstance(name, str) or not name.strip():
        problems.append(Problem("saga", "a saga needs a name: 'saga: NAME' (text)"))
        name = ""
    version = document.get("version")
    if version is not None and not isinstance(version, str | int):
        problems.append(Problem("version", f"the version must be text, not {_kind(version)}"))
        version = None
    description = document.get("description", "")
    if not isinstance(description, str):
        problems.append(Problem("description", "the description must be text"))
        description = ""
    params = document.get("params", [])
    if not isinstance(params, list) or not all(isinstance(p, str) and p for p in params):
        problems.append(Problem("params", "params lists the names the saga's input must have"))
        params = []
    max_parallel = document.get("max_parallel")
    if max_parallel is not None and (
        isinstance(max_parallel, bool) or not isinstance(max_parallel, int) or max_parallel < 1
    ):
        problems.append(Problem("max_parallel", "max_parallel must be a whole number >= 1"))
        max_parallel = None

    start = builder.add(START, "(start)", "(start)", (), "", scope=-1)
    last = builder.stages(document.get("stages"), "stages", (start,), scope=-1, prefix="")
    end = builder.add(END, "(end)", "(end)", last, "", scope=-1)
    if problems:
        raise DefinitionError(problems=sorted(set(problems)), source=origin)
    nodes = builder.finish()
    children: list[list[int]] = [[] for _ in nodes]
    for node in nodes:
        for parent in node.parents:
            children[parent].append(node.index)
    digest = hashlib.sha256(
        json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()[:16]
    assert end == len(nodes) - 1
    return SagaGraph(
        name=name,
        version=None if version is None else str(version),
        description=description,
        params=tuple(params),
        max_parallel=max_parallel,
        nodes=tuple(nodes),
        children=tuple(tuple(c) for c in children),
        digest=digest,
    )


class _GraphBuilder:
    """Collects nodes and problems while a document is walked."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.nodes: list[dict[str, Any]] = []

    def add(
        self,
        kind: str,
        name: str,
        path: str,
        parents: Sequence[int],
        spec_path: str,
        *,
        scope: int,
        **extra: Any,
    ) -> int:
        index = len(self.nodes)
        self.nodes.append(
            {
                "index": index,
                "kind": kind,
                "name": name,
                "path": path,
                "parents": tuple(parents),
                "spec_path": spec_path,
                "scope": scope,
                **extra,
            }
        )
        return index

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def stages(
        self, raw: JSON, path: str, previous: tuple[int, ...], *, scope: int, prefix: str
    ) -> tuple[int, ...]:
        """Add the nodes of a list of stages; return the last stage's nodes."""
        if not isinstance(raw, list) or not raw:
            self.problem(path, "stages must be a non-empty list of nodes and parallel groups")
            return previous
        names: dict[str, str] = {}
        for i, stage in enumerate(raw):
            where = f"{path}[{i}]"
            if isinstance(stage, Mapping) and "parallel" in stage:
                extra = sorted(set(stage) - {"parallel"})
                if extra:
                    self.problem(
                        where, f"a parallel group has only 'parallel' (not {', '.join(extra)})"
                    )
                members = stage["parallel"]
                if not isinstance(members, list) or not members:
                    self.problem(f"{where}.parallel", "a parallel group lists at least one node")
                    continue
                added = [
                    self.node(m, f"{where}.parallel[{j}]", previous, scope, prefix, names)
                    for j, m in enumerate(members)
                ]
            else:
                added = [self.node(stage, where, previous, scope, prefix, names)]
            found = tuple(a for a in added if a is not None)
            if found:
                previous = found
            if i == len(raw) - 1 and len(added) != 1:
                self.problem(
                    where,
                    "a saga must end with exactly one node (its output is the saga's output), "
                    f"not a parallel group of {len(added)}",
                )
        return previous

    def node(
        self,
        raw: JSON,
        where: str,
        previous: tuple[int, ...],
        scope: int,
        prefix: str,
        names: dict[str, str],
    ) -> int | None:
        if not isinstance(raw, Mapping):
            self.problem(
                where, f"a node is a mapping (action, constant or subsaga), not {_kind(raw)}"
            )
            return None
        kinds = [k for k in ("action", "constant", "subsaga") if k in raw]
        if len(kinds) != 1:
            self.problem(
                where,
                "a node has exactly one of 'action: NAME', 'constant: NAME', 'subsaga: NAME'"
                + (f" (found {', '.join(kinds)})" if kinds else ""),
            )
            return None
        kind = kinds[0]
        name = raw[kind]
        if not isinstance(name, str) or not NODE_NAME.fullmatch(name):
            self.problem(
                f"{where}.{kind}",
                f"a node name is letters, digits, '_' and '-', not {name!r}",
            )
            name = f"#{len(self.nodes)}"
        elif name in names:
            self.problem(f"{where}.{kind}", f"the name {name!r} is already used by {names[name]}")
        else:
            names[name] = where
        path = prefix + name
        visible = self.visible(previous, scope)
        if kind == "action":
            self.unknown_keys(raw, ACTION_KEYS, where)
            do = self.step(raw, "do", where, visible, required=True)
            undo = self.step(raw, "undo", where, {**visible, name: -1}, required=False)
            return self.add(
                ACTION, name, path, previous, where, scope=scope, do=do, undo=undo, visible=visible
            )
        if kind == "constant":
            self.unknown_keys(raw, CONSTANT_KEYS, where)
            if "value" not in raw:
                self.problem(f"{where}.value", "a constant needs a value")
            value = raw.get("value")
            if not _is_json(value):
                self.problem(f"{where}.value", "the value must be JSON data")
            return self.add(
                CONSTANT, name, path, previous, where, scope=scope, value=value, visible=visible
            )
        self.unknown_keys(raw, SUBSAGA_KEYS, where)
        params_from: int | None = None
        params = raw.get("params")
        if params is not None:
            if not isinstance(params, str) or params not in visible:
                self.problem(
                    f"{where}.params",
                    f"the subsaga's params must name a node of an earlier stage ({params!r} "
                    f"is not one; visible: {', '.join(sorted(visible)) or 'none'})",
                )
            else:
                params_from = visible[params]
        start = self.add(
            SUBSAGA_START,
            name,
            path,
            previous,
            where,
            scope=scope,
            params_from=params_from,
            visible=visible,
        )
        inner_last = self.stages(
            raw.get("stages"), f"{where}.stages", (start,), scope=start, prefix=path + "/"
        )
        return self.add(
            SUBSAGA_END, name, path, inner_last, where, scope=scope, visible=visible, start=start
        )

    def step(
        self,
        raw: Mapping[str, Any],
        side: str,
        where: str,
        visible: Mapping[str, int],
        *,
        required: bool,
    ) -> Step | None:
        activity = raw.get(side)
        prefix = "" if side == "do" else "undo_"
        if activity is None and not required:
            for key in (f"{prefix}input", f"{prefix}retry", f"{prefix}timeout"):
                if key in raw:
                    self.problem(f"{where}.{key}", "there is no undo to apply this to")
            return None
        if activity is None:
            self.problem(f"{where}.do", "an action needs 'do: ACTIVITY' (such as core.local)")
        elif not isinstance(activity, str) or not ACTIVITY_NAME.fullmatch(activity):
            self.problem(
                f"{where}.{side}",
                f"{side} names an activity (such as core.local), not {activity!r}",
            )
        input_key = "input" if side == "do" else "undo_input"
        default: JSON = {} if side == "do" else None
        given = raw.get(input_key, default)
        if given is not None:
            if not isinstance(given, Mapping):
                self.problem(
                    f"{where}.{input_key}", f"the input must be a mapping, not {_kind(given)}"
                )
            elif not _is_json(given):
                self.problem(f"{where}.{input_key}", "the input must be JSON data")
            else:
                self.check_references(given, f"{where}.{input_key}", visible)
        retry = self.retry(raw.get(f"{prefix}retry"), f"{where}.{prefix}retry")
        timeout = raw.get(f"{prefix}timeout")
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
        ):
            self.problem(f"{where}.{prefix}timeout", "a timeout is a number of seconds > 0")
            timeout = None
        if activity is None:
            return None
        return Step(
            activity=str(activity),
            input=given,
            retry=retry,
            timeout=None if timeout is None else float(timeout),
        )

    def retry(self, raw: JSON, where: str) -> RetryPolicy | None:
        if raw is None:
            return None
        if not isinstance(raw, Mapping):
            self.problem(where, f"a retry policy is a mapping of {', '.join(RETRY_KEYS)}")
            return None
        self.unknown_keys(raw, RETRY_KEYS, where)
        try:
            return RetryPolicy.from_dict(raw)
        except (TypeError, ValueError) as exc:
            self.problem(where, f"not a valid retry policy: {exc}")
            return None

    def check_references(self, value: JSON, where: str, visible: Mapping[str, int]) -> None:
        for suffix, text in references.references_in(value):
            try:
                found = references.parse(text)
            except ValueError as exc:
                self.problem(where + suffix, str(exc))
                continue
            if found.root == "nodes" and found.node not in visible:
                self.problem(
                    where + suffix,
                    f"{found} names no earlier node of this saga (visible: "
                    f"{', '.join(sorted(n for n in visible if visible[n] >= 0)) or 'none'})",
                )

    def unknown_keys(self, raw: Mapping[str, Any], known: Sequence[str], where: str) -> None:
        for key in sorted(set(raw) - set(known)):
            self.problem(f"{where}.{key}", f"unknown key (known: {', '.join(known)})")

    def visible(self, parents: Sequence[int], scope: int) -> dict[str, int]:
        """The names a node with ``parents`` in ``scope`` may read: its ancestors
        within the scope, a nested subsaga only through its end node."""
        found: dict[str, int] = {}
        todo = list(parents)
        seen: set[int] = set()
        while todo:
            index = todo.pop()
            if index in seen:
                continue
            seen.add(index)
            node = self.nodes[index]
            if node["kind"] in (START,) or (node["kind"] == SUBSAGA_START and index == scope):
                continue
            if node["kind"] in (ACTION, CONSTANT, SUBSAGA_END):
                found[node["name"]] = index
            if node["kind"] == SUBSAGA_END:
                todo.extend(self.nodes[node["start"]]["parents"])
            else:
                todo.extend(node["parents"])
        return found

    def finish(self) -> list[GraphNode]:
        fields = {f for f in GraphNode.__dataclass_fields__}
        return [GraphNode(**{k: v for k, v in n.items() if k in fields}) for n in self.nodes]


def _is_json(value: JSON) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "nothing"
    return type(value).__name__
