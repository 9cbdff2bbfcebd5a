"""Which front end reads which definition."""

from __future__ import annotations

import json
from collections.abc import Callable

from cadenza.interpreters.protocol import FrontEnd, Interpreter


class LazyFrontEnd:
    """A front end imported on first use: a process that never sees a state
    machine never pays for JSONata and JSONPath at start-up."""

    def __init__(
        self, kind: str, load: Callable[[], FrontEnd], *, input_must_be_object: bool = True
    ) -> None:
        self.kind = kind
        self.input_must_be_object = input_must_be_object
        self._load = load
        self._loaded: FrontEnd | None = None

    def compile(self, source: str, *, origin: str | None = None) -> Interpreter:
        if self._loaded is None:
            self._loaded = self._load()
        return self._loaded.compile(source, origin=origin)


def default_front_ends(*, aws_limits: bool = False) -> dict[str, FrontEnd]:
    """Every front end this version ships, by kind; ``aws_limits`` applies Step
    Functions' payload limit (256 KiB) to state machines."""

    def orquesta() -> FrontEnd:
        from cadenza.interpreters.orquesta.frontend import OrquestaFrontEnd

        return OrquestaFrontEnd()

    def states() -> FrontEnd:
        from cadenza.interpreters.states.frontend import AWS_PAYLOAD_LIMIT, StatesFrontEnd

        return StatesFrontEnd(payload_limit=AWS_PAYLOAD_LIMIT if aws_limits else None)

    return {
        "orquesta": LazyFrontEnd("orquesta", orquesta),
        "states": LazyFrontEnd("states", states, input_must_be_object=False),
    }


def kind_for(origin: str | None, source: str) -> str:
    """A definition's kind: Amazon States Language for JSON with ``StartAt``
    (or a ``.asl.json`` file), Orquesta YAML otherwise."""
    if origin and origin.endswith((".asl.json", ".asl")):
        return "states"
    text = source.lstrip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError:
            return "states" if '"StartAt"' in text else "orquesta"
        if isinstance(document, dict) and "StartAt" in document:
            return "states"
    return "orquesta"
