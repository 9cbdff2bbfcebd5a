"""Reading YAML safely: a document whose aliases expand too far is refused first.

``yaml.safe_load`` builds an alias as a shared reference, so loading a "billion
laughs" document (each level repeating the previous one ten times through
``*alias``) is quick; it is everything that walks the result afterwards
(validation, expression inspection, JSON encoding) that never ends. The size
the document *would* have with every alias written out is counted on the
composed nodes, each distinct node once, before anything is built.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

__all__ = ["MAX_EXPANDED_NODES", "AliasExpansionError", "check_expansion", "safe_load_bounded"]

MAX_EXPANDED_NODES = 100_000
"""The most nodes a definition may have once its aliases are expanded."""


class AliasExpansionError(yaml.YAMLError):
    """The document's aliases expand it past ``MAX_EXPANDED_NODES`` nodes."""


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def check_expansion(root: Node, limit: int = MAX_EXPANDED_NODES) -> None:
    """Raise ``AliasExpansionError`` if aliases make ``root`` expand to more than
    ``limit`` nodes beyond those written out.

    Only what aliases add counts: a long document written out (a 10,000-task
    chain has about 150,000 nodes) is as big as its text and costs nothing
    extra. Each distinct node is visited once (its expanded size is
    remembered), so the check costs as much as the text, however far the
    aliases would expand. An alias inside its own anchor counts as one node
    (the caller reports it).
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            open_nodes.discard(key)
            total = 1 + sum(sizes.get(id(child), 1) for child in _children(node))
            # The distinct nodes seen so far bound those of this subtree, so what
            # is left over is no more than what aliases add to it.
            if total - (len(sizes) + 1) > limit:
                raise AliasExpansionError(
                    f"the document's aliases (*name) add more than {limit} nodes "
                    "to it; write the repeated parts out, or repeat them less"
                )
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            continue  # an alias inside its own anchor: the front end's walker reports it
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


def safe_load_bounded(text: str, limit: int = MAX_EXPANDED_NODES) -> Any:
    """``yaml.safe_load(text)``, refusing documents that expand past ``limit`` nodes."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        check_expansion(node, limit)
        return loader.construct_document(node)
    finally:
        loader.dispose()
