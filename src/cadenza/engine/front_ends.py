"""Which front end reads which definition."""

from __future__ import annotations

import json

from cadenza.interpreters.protocol import FrontEnd


def default_front_ends(*, aws_limits: bool = False) -> dict[str, FrontEnd]:
    """Every front end this version ships, by kind; ``aws_limits`` applies Step
    Functions' payload limit (256 KiB) to state machines."""
    from cadenza.interpreters.orquesta.frontend import OrquestaFrontEnd

    found: dict[str, FrontEnd] = {"orquesta": OrquestaFrontEnd()}
    from cadenza.interpreters.states.frontend import AWS_PAYLOAD_LIMIT, StatesFrontEnd

    found["states"] = StatesFrontEnd(payload_limit=AWS_PAYLOAD_LIMIT if aws_limits else None)
    return found


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
