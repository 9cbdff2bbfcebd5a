"""References from a node's input to the saga's parameters and earlier outputs.

A node's input is JSON in which a string may name a value by reference:

* ``"${params}"``, ``"${params.vm.name}"`` — the saga's parameters (inside a
  subsaga: the subsaga's parameters), or a key path into them;
* ``"${nodes.allocate_ip}"``, ``"${nodes.allocate_ip.address}"`` — the output
  of an earlier node, by name, or a key path into it.

A string that is exactly one reference becomes the value itself (any JSON);
a reference inside longer text is written into the text (strings as they
are, anything else as JSON). ``$${`` writes a literal ``${``. Only the
ancestors of a node are visible to it, as in Steno; a name that is not a
visible ancestor is a problem of the definition, found when it is compiled.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from cadenza.model.events import JSON

_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_PATH_PART = re.compile(r"[A-Za-z0-9_\-]+")


@dataclass(frozen=True)
class Reference:
    """One ``${...}``: ``root`` is ``params`` or ``nodes``; ``node`` names the node
    for ``nodes``; ``path`` is the key path below the value."""

    root: str
    node: str
    path: tuple[str, ...]

    def __str__(self) -> str:
        parts = [self.root, *([self.node] if self.node else []), *self.path]
        return "${" + ".".join(parts) + "}"


class ReferenceMissing(Exception):
    """A reference names a key that the value does not have (at run time)."""


def parse(text: str) -> Reference:
    """The reference written between ``${`` and ``}``; ``ValueError`` saying what is wrong."""
    parts = text.strip().split(".")
    if not all(_PATH_PART.fullmatch(p) for p in parts):
        raise ValueError(
            f"'${{{text}}}' is not a reference: write ${{params}}, ${{params.KEY}} "
            "or ${nodes.NODE}, ${nodes.NODE.KEY} (letters, digits, '_' and '-' between dots)"
        )
    if parts[0] == "params":
        return Reference("params", "", tuple(parts[1:]))
    if parts[0] == "nodes" and len(parts) >= 2:
        return Reference("nodes", parts[1], tuple(parts[2:]))
    raise ValueError(
        f"'${{{text}}}' is not a reference: it must start with 'params' or 'nodes.NODE'"
    )


def references_in(value: JSON) -> Iterator[tuple[str, str]]:
    """``(where, text inside ${...})`` for every reference in ``value``; ``where``
    is a JSON path suffix such as ``.disk.size`` or ``[0]``."""
    if isinstance(value, str):
        for found in _REFERENCE.finditer(value):
            if found.group(1) is not None:
                yield "", found.group(1)
    elif isinstance(value, Mapping):
        for key in sorted(value):
            for where, text in references_in(value[key]):
                yield f".{key}{where}", text
    elif isinstance(value, list):
        for i, item in enumerate(value):
            for where, text in references_in(item):
                yield f"[{i}]{where}", text


def resolve(value: JSON, params: JSON, outputs: Mapping[str, JSON]) -> JSON:
    """``value`` with every reference replaced; ``ReferenceMissing`` if a key is absent.

    ``outputs`` holds the outputs of the nodes visible from here, by name
    (the definition was checked, so every named node is among them).
    """
    if isinstance(value, str):
        return _resolve_text(value, params, outputs)
    if isinstance(value, Mapping):
        return {key: resolve(item, params, outputs) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, params, outputs) for item in value]
    return value


def _resolve_text(text: str, params: JSON, outputs: Mapping[str, JSON]) -> JSON:
    whole = _REFERENCE.fullmatch(text)
    if whole is not None and whole.group(1) is not None:
        return _lookup(parse(whole.group(1)), params, outputs)

    def replace(found: re.Match[str]) -> str:
        if found.group(1) is None:
            return "${"
        looked_up = _lookup(parse(found.group(1)), params, outputs)
        return looked_up if isinstance(looked_up, str) else json.dumps(looked_up)

    return _REFERENCE.sub(replace, text)


def _lookup(reference: Reference, params: JSON, outputs: Mapping[str, JSON]) -> JSON:
    if reference.root == "params":
        value = params
    elif reference.node in outputs:
        value = outputs[reference.node]
    else:
        raise ReferenceMissing(f"{reference}: the node {reference.node!r} has no output here")
    for depth, key in enumerate(reference.path):
        if isinstance(value, Mapping) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            where = ".".join(reference.path[:depth]) or "the value"
            raise ReferenceMissing(f"{reference}: {where} has no key {key!r}")
    return value
