"""Which front end reads which definition."""

from __future__ import annotations

from cadenza.interpreters.protocol import FrontEnd


def default_front_ends() -> dict[str, FrontEnd]:
    """Every front end this version ships, by kind."""
    from cadenza.interpreters.orquesta.frontend import OrquestaFrontEnd

    return {"orquesta": OrquestaFrontEnd()}


def kind_for(origin: str | None, source: str) -> str:
    """Guess a definition's kind from its file name (Orquesta YAML by default)."""
    return "orquesta"
