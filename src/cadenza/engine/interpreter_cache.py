"""Compiled interpreters by definition id.

A definition never changes once registered, so its interpreter is compiled
once per process: at registration, or the first time a decision needs it.
"""

from __future__ import annotations

from cadenza.engine.front_ends import FrontEnds
from cadenza.interpreters.protocol import FrontEnd, Interpreter, compile_registered
from cadenza.model.definitions import CodeReference, DefinitionSource
from cadenza.store.records import DefinitionRecord


def definition_source(definition: DefinitionRecord) -> DefinitionSource:
    """What the front end compiles: the text, or the code reference at its version."""
    if definition.version is not None:
        return CodeReference(definition.source, definition.version)
    return definition.source


class InterpreterCache:
    """Compiled interpreters by definition id, and the front end of each."""

    def __init__(self, front_ends: FrontEnds) -> None:
        self.front_ends = front_ends
        self._compiled: dict[str, Interpreter] = {}
        self._kinds: dict[str, str] = {}

    def __contains__(self, definition_id: object) -> bool:
        return definition_id in self._compiled

    def add(self, definition: DefinitionRecord, interpreter: Interpreter) -> None:
        """Keep an interpreter compiled elsewhere (at registration)."""
        self._compiled.setdefault(definition.id, interpreter)
        self._kinds.setdefault(definition.id, definition.kind)

    def get(self, definition_id: str) -> Interpreter | None:
        """The interpreter, if this process compiled it already."""
        return self._compiled.get(definition_id)

    def front_end_of(self, definition_id: str) -> FrontEnd | None:
        """The front end of a compiled definition."""
        kind = self._kinds.get(definition_id)
        return None if kind is None else self.front_ends.require(kind)

    def compile(self, definition: DefinitionRecord) -> Interpreter:
        """The interpreter of ``definition``, compiling it on first use."""
        found = self._compiled.get(definition.id)
        if found is None:
            front_end = self.front_ends.require(definition.kind)
            # Checked when it was registered: not checked again in every process.
            found = compile_registered(
                front_end, definition_source(definition), origin=definition.name
            )
            self.add(definition, found)
        return found
