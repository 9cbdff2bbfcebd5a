"""Context lists as shared chains, and their merged contexts (spec §9.2-§9.4).

Orquesta gives every task occurrence a list of context indexes: the completed task's
list plus the index it published, or, at a join, the first arrival's list followed by
each later arrival's list without the initial context. Storing those lists literally
makes each entry of a long run hold the whole history, so the state grows with the
square of the run's length. Here a list is a node of ``state["chains"]``, and nodes
share their prefixes:

* ``[None, 0]`` is node 0 (:data:`ROOT`), the list ``[0]`` (the initial context);
* ``[parent, index]`` is the parent's list followed by ``index`` (a publish);
* ``[parent, None, other]`` is the parent's list followed by ``other``'s list without
  its leading ``0`` (a join).

Every list starts with ``0`` and holds it nowhere else, so "without the initial
context" is "without the first index". The merge of a list is a left fold of
:func:`deep_merge` over its contexts; the fold is not associative (a later scalar
replaces a mapping that an even later mapping would have merged into), so the merged
context of a node is built from its parent's by applying the node's own contexts in
order, never by merging two merged contexts. Merged contexts are memoised in memory on
the chain list (never persisted: a snapshot holds only the nodes), so a step costs the
size of its context, not the length of the run.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Any

ROOT = 0
"""The chain node of the list ``[0]``: the initial context alone."""

_MEMO_SIZE = 256
"""Merged contexts kept per execution; a run touches the newest few nodes at a time."""


class ChainList(list[Any]):
    """``state["chains"]``: JSON nodes, plus an in-memory memo of merged contexts.

    It serialises as a plain list; a state loaded from JSON gets its plain list
    wrapped on first use (see :func:`chains`), with an empty memo.
    """

    def __init__(self, nodes: Any = ()) -> None:
        super().__init__(nodes)
        self.memo: OrderedDict[int, dict[str, Any]] = OrderedDict()

    def remember(self, node: int, merged: dict[str, Any]) -> None:
        self.memo[node] = merged
        if len(self.memo) > _MEMO_SIZE:
            self.memo.popitem(last=False)

    def recall(self, node: int) -> dict[str, Any] | None:
        merged = self.memo.get(node)
        if merged is not None:
            self.memo.move_to_end(node)
        return merged

    # A copy gets its own memo: copies can grow different nodes under the same ids.
    def __copy__(self) -> ChainList:
        return ChainList(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> ChainList:
        return ChainList(copy.deepcopy(list(self), memo))


def chains(state: dict[str, Any]) -> ChainList:
    """The state's chain nodes, wrapped for memoisation if they came from JSON."""
    found = state["chains"]
    if not isinstance(found, ChainList):
        found = state["chains"] = ChainList(found)
    return found


def start_chains(state: dict[str, Any]) -> None:
    """Create the root node (once the initial context exists)."""
    state["chains"] = ChainList([[None, 0]])


def extend(state: dict[str, Any], node: int, index: int) -> int:
    """The node of ``node``'s list followed by context ``index``."""
    nodes = chains(state)
    nodes.append([node, index])
    return len(nodes) - 1


def join(state: dict[str, Any], node: int, other: int) -> int:
    """The node of ``node``'s list followed by ``other``'s list without its ``0``."""
    if other == ROOT:
        return node
    if node == ROOT:
        return other
    nodes = chains(state)
    nodes.append([node, None, other])
    return len(nodes) - 1


def indexes(state: dict[str, Any], node: int) -> list[int]:
    """The plain context list of ``node`` (for joins and the output only)."""
    nodes = chains(state)
    found: list[int] = []
    # A stack rather than recursion: chains are as deep as the run is long.
    stack: list[tuple[bool, int, bool]] = [(True, node, False)]
    while stack:
        is_node, value, drop_root = stack.pop()
        if not is_node:
            found.append(value)
            continue
        record = nodes[value]
        if record[0] is None:
            if not drop_root:
                found.append(0)
        elif len(record) == 2:
            stack.append((False, record[1], False))
            stack.append((True, record[0], drop_root))
        else:
            stack.append((True, record[2], True))
            stack.append((True, record[0], drop_root))
    return found


def deep_merge(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    """``right`` over ``left``; where both hold a mapping, merge those recursively."""
    merged = dict(left)
    for key, value in right.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def fold(state: dict[str, Any], indexes: list[int], base: dict[str, Any]) -> dict[str, Any]:
    """``base`` with the contexts at ``indexes`` merged over it, in order."""
    contexts = state["contexts"]
    merged = base
    for index in indexes:
        merged = deep_merge(merged, contexts[index])
    return merged


def merged_context(state: dict[str, Any], node: int) -> dict[str, Any]:
    """The merge of ``node``'s list: a fresh top-level dict (nested values are shared)."""
    return dict(_merged(state, node))


def tail_context(state: dict[str, Any], node: int) -> dict[str, Any]:
    """The merge of ``node``'s list without the initial context (terminal tasks, §9.5)."""
    return fold(state, indexes(state, node)[1:], {})


def _merged(state: dict[str, Any], node: int) -> dict[str, Any]:
    nodes = chains(state)
    contexts = state["contexts"]
    # Walk up publish nodes to one whose merge is known, then apply forward.
    path: list[int] = []
    current = node
    base = nodes.recall(current)
    while base is None:
        record = nodes[current]
        if record[0] is None:
            base = deep_merge({}, contexts[0])
        elif len(record) == 2:
            path.append(current)
            current = record[0]
            base = nodes.recall(current)
            continue
        else:
            parent = nodes.recall(record[0])
            if parent is not None:
                base = fold(state, indexes(state, record[2])[1:], parent)
            else:
                base = fold(state, indexes(state, current), {})
        nodes.remember(current, base)
    for step in reversed(path):
        base = deep_merge(base, contexts[nodes[step][1]])
        nodes.remember(step, base)
    return base


def chains_from_lists(state: dict[str, Any], lists: list[list[int]]) -> list[int]:
    """Nodes for plain context lists (upgrading a state saved before chains existed).

    Lists sharing a prefix share its nodes.
    """
    start_chains(state)
    known: dict[tuple[int, int], int] = {}
    found = []
    for values in lists:
        node = ROOT
        for value in values[1:]:
            step = known.get((node, value))
            if step is None:
                step = known[(node, value)] = extend(state, node, value)
            node = step
        found.append(node)
    return found
