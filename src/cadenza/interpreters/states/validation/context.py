"""The checking context: where problems are collected while a definition is walked."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from cadenza.interpreters.states.validation.diagnostics import Code, Diagnostic

JSONPATH = "JSONPath"
JSONATA = "JSONata"
QUERY_LANGUAGES = (JSONPATH, JSONATA)

STANDARD = "STANDARD"
EXPRESS = "EXPRESS"
MACHINE_TYPES = (STANDARD, EXPRESS)

_LAST_STEP = re.compile(r"(/[^/]*|\[\d+\])$")


def line_of(lines: Mapping[str, int], location: str | None) -> int | None:
    """The line of ``location``, or of its nearest enclosing location that has one."""
    if location is None:
        return None
    where = location
    while where:
        if where in lines:
            return lines[where]
        parent = _LAST_STEP.sub("", where)
        if parent == where:
            break
        where = parent
    return lines.get("/")


@dataclass
class Checker:
    """Collects diagnostics, in the order found, for one definition."""

    machine_type: str
    machine_language: str
    lines: Mapping[str, int] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def report(
        self,
        location: str | None,
        message: str,
        *,
        code: str = Code.SCHEMA_VALIDATION_FAILED,
        category: str = "",
        expression: str | None = None,
    ) -> None:
        """Record one problem at ``location`` (an AWS location such as ``/States/X/Next``)."""
        self.diagnostics.append(
            Diagnostic(
                code=code,
                message=message,
                location=location,
                line=line_of(self.lines, location),
                category=category,
                expression=expression,
            )
        )
