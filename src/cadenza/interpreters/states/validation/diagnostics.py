"""Diagnostics: one problem found in a definition, in AWS's words and in Cadenza's.

A :class:`Diagnostic` is what the checks produce. It renders three ways:

* ``to_api()`` — one entry of a ValidateStateMachineDefinition response;
* ``aws_text()`` — one clause of CreateStateMachine's ``InvalidDefinition``
  message (``CODE: message at /States/X/Field``);
* ``to_problem()`` — a :class:`~cadenza.model.errors.Problem` for
  :class:`~cadenza.model.errors.DefinitionError`, with the line where known.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cadenza.model.errors import Problem


class Code(StrEnum):
    """The diagnostic codes AWS Step Functions reports (ValidateStateMachineDefinition)."""

    SCHEMA_VALIDATION_FAILED = "SCHEMA_VALIDATION_FAILED"
    INVALID_JSON_DESCRIPTION = "INVALID_JSON_DESCRIPTION"
    MISSING_TRANSITION_TARGET = "MISSING_TRANSITION_TARGET"
    MISSING_END_STATE = "MISSING_END_STATE"
    DUPLICATE_STATE_NAME = "DUPLICATE_STATE_NAME"
    INVALID_STATE_NAME = "INVALID_STATE_NAME"
    INVALID_RESOURCE = "INVALID_RESOURCE"
    INVALID_LABEL_NAME = "INVALID_LABEL_NAME"
    INVALID_JSONATA_EXPRESSION = "INVALID_JSONATA_EXPRESSION"
    UNSUPPORTED_JSONATA_EXPRESSION = "UNSUPPORTED_JSONATA_EXPRESSION"
    # Warnings (see ``path_warnings``).
    NO_DOLLAR = "NO_DOLLAR"
    NO_PATH = "NO_PATH"
    PASS_RESULT_IS_STATIC = "PASS_RESULT_IS_STATIC"


class Category(StrEnum):
    """Cadenza's grouping of problems (STYLE point 14): what kind of rule was broken."""

    SYNTAX = "syntax"  # the document's shape: fields, types, required values
    SEMANTIC = "semantic"  # transitions, reachability, names, machine-type rules
    EXPRESSION = "expression"  # JSONPath, intrinsic functions, JSONata


_CATEGORY_OF_CODE: dict[str, Category] = {
    Code.MISSING_TRANSITION_TARGET: Category.SEMANTIC,
    Code.MISSING_END_STATE: Category.SEMANTIC,
    Code.DUPLICATE_STATE_NAME: Category.SEMANTIC,
    Code.INVALID_STATE_NAME: Category.SEMANTIC,
    Code.INVALID_RESOURCE: Category.SEMANTIC,
    Code.INVALID_LABEL_NAME: Category.SEMANTIC,
    Code.INVALID_JSONATA_EXPRESSION: Category.EXPRESSION,
    Code.UNSUPPORTED_JSONATA_EXPRESSION: Category.EXPRESSION,
}

INVALID_DEFINITION = "InvalidDefinition"
"""The API error code CreateStateMachine answers an invalid definition with."""


@dataclass(frozen=True)
class Diagnostic:
    """One problem: AWS code, message, location (``/States/X/Field``) and source line."""

    code: str
    message: str
    location: str | None
    severity: str = "ERROR"
    line: int | None = None
    category: str = ""
    expression: str | None = None

    @property
    def kind(self) -> str:
        """The Cadenza category: given explicitly, else derived from the code."""
        return str(self.category or _CATEGORY_OF_CODE.get(self.code, Category.SYNTAX))

    def aws_text(self) -> str:
        """This problem as one clause of AWS's InvalidDefinition message."""
        where = f" at {self.location}" if self.location is not None else ""
        if self.location is not None and self.message.endswith(where):
            where = ""  # a JSON reader's message already says where it stopped
        return f"{self.code}: {self.message}{where}"

    def to_api(self) -> dict[str, Any]:
        """This problem as a ValidateStateMachineDefinition diagnostic."""
        out: dict[str, Any] = {
            "severity": self.severity,
            "code": str(self.code),
            "message": self.message,
        }
        if self.location is not None:
            out["location"] = self.location
        return out

    def to_problem(self) -> Problem:
        """This problem as Cadenza's :class:`Problem` (path, message, category, line);
        a warning's category is ``warning``."""
        return Problem(
            spec_path=self.location if self.location and self.location.startswith("/") else "",
            message=f"{self.code}: {self.message}",
            category="warning" if self.severity == "WARNING" else self.kind,
            line=self.line,
            expression=self.expression,
        )


def aws_message(diagnostics: Sequence[Diagnostic]) -> str:
    """AWS's InvalidDefinition message for these problems, in the order given."""
    clauses = ", ".join(d.aws_text() for d in diagnostics)
    return f"Invalid State Machine Definition: '{clauses}'"
