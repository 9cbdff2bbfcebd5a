"""Reading a definition's YAML text into a mapping, keeping the line of every node.

Orquesta reads definitions with ``yaml.safe_load``; so do we, with three additions that
make errors clear:

* every key and list item gets its line, recorded by spec path, so that each problem
  found later can say where it is;
* a mapping with the same key twice is refused (orquesta 1.6.0 does so; 1.2.0 silently
  kept the last value, which hides typos such as two tasks named alike);
* a document that is not valid YAML, is empty, holds several documents, is not a mapping,
  or uses a key that is not a string is refused with the line at fault.

All of these raise :class:`~cadenza.model.errors.DefinitionLoadError` before any other
check runs, because without a mapping there is nothing to check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from cadenza.interpreters.orquesta.validation.paths import Path, format_path
from cadenza.model.errors import DefinitionLoadError, Problem
from cadenza.model.yaml_documents import check_expansion

_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class MappingWithLines:
    """A definition read from YAML: the mapping and the line of each node in it."""

    data: dict[str, Any]
    #: 1-based line of each key (for mapping entries) or item (for list items), by spec
    #: path text; the root document is ``""``.
    lines: dict[str, int]


def load_yaml(source: str, *, origin: str | None = None) -> MappingWithLines:
    """Read ``source`` (YAML or JSON text) into a mapping with its line map.

    Raises :class:`DefinitionLoadError` listing every duplicate key, or naming the YAML
    syntax error, or saying why the document is not a usable mapping.
    """
    try:
        # The reader checks the characters as it is built: a control character
        # is a load error like any other, not an exception out of the front end.
        loader = yaml.SafeLoader(source)
    except yaml.YAMLError as exc:
        message = f"The definition is not valid YAML: {exc}"
        raise DefinitionLoadError(problems=[Problem("", message)], source=origin) from exc
    try:
        node = loader.get_single_node()
        if node is None:
            raise DefinitionLoadError(
                problems=[Problem("", "The definition is empty.", line=1)], source=origin
            )
        # Before anything walks it: aliases can make a short text enormous.
        check_expansion(node)
        walker = _NodeWalker(loader)
        walker.walk(node, ())
        if walker.problems:
            raise DefinitionLoadError(problems=walker.problems, source=origin)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise DefinitionLoadError(problems=[_yaml_problem(exc)], source=origin) from exc
    except yaml.YAMLError as exc:
        message = f"The definition is not valid YAML: {exc}"
        raise DefinitionLoadError(problems=[Problem("", message)], source=origin) from exc
    except RecursionError:
        message = (
            "The definition nests too deeply to be read (lists or mappings inside each other)."
        )
        raise DefinitionLoadError(problems=[Problem("", message)], source=origin) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        kind = _kind_of(data)
        message = f"The definition must be a mapping of keys such as tasks; it is {kind}."
        raise DefinitionLoadError(problems=[Problem("", message, line=1)], source=origin)
    return MappingWithLines(data=data, lines=walker.lines)


def _yaml_problem(exc: yaml.MarkedYAMLError) -> Problem:
    """One problem that says what the YAML parser did not understand, and where."""
    mark = exc.problem_mark or exc.context_mark
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    what = exc.problem or "invalid YAML"
    if exc.context:
        what += f" ({exc.context}"
        if exc.context_mark is not None:
            cm = exc.context_mark
            what += f" at line {cm.line + 1}, column {cm.column + 1}"
        what += ")"
    line = mark.line + 1 if mark is not None else None
    return Problem("", f"The definition is not valid YAML{where}: {what}.", line=line)


def _kind_of(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return f"a value of type {type(value).__name__}"


class _NodeWalker:
    """Walks the composed YAML nodes once: records lines, finds duplicate and odd keys."""

    def __init__(self, loader: yaml.SafeLoader) -> None:
        self._loader = loader
        self.lines: dict[str, int] = {}
        self.problems: list[Problem] = []
        # Nodes on the current descent: an alias that points to one of them would make
        # the document infinitely deep, which nothing downstream could handle.
        self._open: set[int] = set()

    def walk(self, node: Node, path: Path) -> None:
        self.lines.setdefault(format_path(path), node.start_mark.line + 1)
        if id(node) in self._open:
            self._problem(path, node, "This alias refers to a node that contains it.")
            return
        if isinstance(node, MappingNode):
            self._open.add(id(node))
            self._walk_mapping(node, path)
            self._open.discard(id(node))
        elif isinstance(node, SequenceNode):
            self._open.add(id(node))
            for index, item in enumerate(node.value):
                self.walk(item, (*path, index))
            self._open.discard(id(node))

    def _walk_mapping(self, node: MappingNode, path: Path) -> None:
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                # `<<: *anchor` merges another mapping in; its entries have their own lines.
                self.walk(value_node, path)
                continue
            key = self._key_of(key_node)
            line = key_node.start_mark.line + 1
            if not isinstance(key, str):
                shown = repr(key) if isinstance(key_node, ScalarNode) else "a collection"
                self._problem(path, key_node, f"Keys must be strings; {shown} is not (quote it).")
                continue
            child = (*path, key)
            if key in seen:
                self._problem(
                    child,
                    key_node,
                    f'The key "{key}" appears twice in the same mapping (first at line '
                    f"{seen[key]}); duplicate keys are not allowed.",
                )
                continue
            seen[key] = line
            self.lines[format_path(child)] = line
            self.walk(value_node, child)

    def _key_of(self, key_node: Node) -> Any:
        if not isinstance(key_node, ScalarNode):
            return None
        return self._loader.construct_object(key_node, deep=True)

    def _problem(self, path: Path, node: Node, message: str) -> None:
        self.problems.append(Problem(format_path(path), message, line=node.start_mark.line + 1))


def expand_shorthands(document: MappingWithLines) -> MappingWithLines:
    """Expand the shorthand ``with: <expr>`` of every task into ``with: {items: <expr>}``.

    Orquesta does this before validation (spec §1), so the schema sees only the long form.
    The input is left untouched; the line of ``with`` is also recorded as that of ``items``.
    """
    tasks = document.data.get("tasks")
    if not isinstance(tasks, dict):
        return document
    new_tasks: dict[Any, Any] = {}
    lines = dict(document.lines)
    for name, task in tasks.items():
        if isinstance(task, dict) and isinstance(task.get("with"), str):
            task = {**task, "with": {"items": task["with"]}}
            with_path = format_path(("tasks", name, "with"))
            if with_path in lines:
                lines[format_path(("tasks", name, "with", "items"))] = lines[with_path]
        new_tasks[name] = task
    return MappingWithLines(data={**document.data, "tasks": new_tasks}, lines=lines)
