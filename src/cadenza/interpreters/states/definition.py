"""A States definition, indexed for the interpreter.

States live in *scopes*, each a :class:`StateGraph` (states and the one to
start at): the machine's own ``States``, each Parallel branch and each Map
item processor. A scope key names one: ``""`` is the machine,
``"<parent>/<state>#<n>"`` is branch ``n`` of a Parallel and
``"<parent>/<state>#map"`` is a Map's processor. Keys are stable, so they can
be stored in the interpreter's state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cadenza.model.errors import DefinitionError, Problem

__all__ = ["Definition", "StateGraph", "load_document"]

JSONATA = "JSONata"
JSONPATH = "JSONPath"


@dataclass(frozen=True)
class StateGraph:
    """The states of one scope (keyed ``key``) and the state it starts at."""

    key: str
    start_at: str
    states: dict[str, dict[str, Any]]


def load_document(source: str, origin: str | None = None) -> dict[str, Any]:
    """Parse definition text as a JSON object; raises ``DefinitionError``."""
    try:
        document = json.loads(source)
    except ValueError as exc:
        raise DefinitionError(
            problems=[Problem("", f"the definition is not JSON: {exc}")], source=origin
        ) from None
    if not isinstance(document, dict) or "States" not in document or "StartAt" not in document:
        raise DefinitionError(
            problems=[Problem("", "the definition needs StartAt and States")], source=origin
        )
    return document


class Definition:
    """The parsed machine: scopes by key and the machine-wide settings."""

    def __init__(self, document: dict[str, Any], payload_limit: int | None = None) -> None:
        self.document = document
        #: Largest state output or task result in bytes (Step Functions: 256 KiB,
        #: ``States.DataLimitExceeded`` beyond); None for no limit.
        self.payload_limit = payload_limit
        self.query_language = str(document.get("QueryLanguage") or JSONPATH)
        self.timeout: float | None = (
            float(document["TimeoutSeconds"]) if "TimeoutSeconds" in document else None
        )
        self.scopes: dict[str, StateGraph] = {}
        self._index("", document)

    def _index(self, key: str, body: dict[str, Any]) -> None:
        states = body.get("States") or {}
        self.scopes[key] = StateGraph(key, str(body.get("StartAt")), states)
        for name, state in states.items():
            kind = state.get("Type")
            if kind == "Parallel":
                for i, branch in enumerate(state.get("Branches") or []):
                    self._index(f"{key}/{name}#{i}", branch)
            elif kind == "Map":
                processor = state.get("ItemProcessor") or state.get("Iterator") or {}
                self._index(f"{key}/{name}#map", processor)

    def state(self, scope: str, name: str) -> dict[str, Any]:
        """The state ``name`` of scope ``scope``."""
        return self.scopes[scope].states[name]

    def language(self, state: dict[str, Any]) -> str:
        """The query language a state uses."""
        return str(state.get("QueryLanguage") or self.query_language)

    def is_jsonata(self, state: dict[str, Any]) -> bool:
        """Whether a state is in JSONata mode."""
        return self.language(state) == JSONATA

    def resources(self) -> list[tuple[str, str]]:
        """Every literal Task resource with its spec path."""
        out: list[tuple[str, str]] = []
        for key, scope in sorted(self.scopes.items()):
            for name, state in scope.states.items():
                if state.get("Type") == "Task" and isinstance(state.get("Resource"), str):
                    out.append((state["Resource"], f"{key}/States/{name}/Resource"))
        return out
