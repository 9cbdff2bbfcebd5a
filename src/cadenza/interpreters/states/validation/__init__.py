"""Validation of Amazon States Language definitions, as Step Functions validates them.

Two calls, one set of checks:

* :func:`validate_definition` — what registration (CreateStateMachine) calls:
  returns a :class:`StatesDefinition` or raises :class:`InvalidStatesDefinition`
  / :class:`UnloadableStatesDefinition` (Cadenza's ``DefinitionError`` /
  ``DefinitionLoadError``) whose ``message`` is AWS's InvalidDefinition text and
  whose ``problems`` give each problem's path and source line.
* :func:`validate_state_machine_definition` — the ValidateStateMachineDefinition
  response (``result``, ``diagnostics``, ``truncated``).

Layout, by concept: ``loading`` (JSON text with line numbers), ``fields``
(field tables per state type and query language), ``states`` and
``parallel_map`` and ``choice`` and ``error_handling`` (rules per state type),
``scopes`` (StartAt, transitions, reachability), ``paths`` and ``templates``
(JSONPath, intrinsic functions), ``jsonata_fields`` (``{% … %}``), ``express``
(EXPRESS restrictions), ``path_warnings`` (AWS's warnings: paths where
literals are taken), ``messages`` (every wording), ``diagnostics``.
"""

from __future__ import annotations

from cadenza.interpreters.states.validation.api import (
    Diagnosis,
    InvalidStatesDefinition,
    StatesDefinition,
    UnloadableStatesDefinition,
    definition_warnings,
    diagnose,
    validate_definition,
    validate_state_machine_definition,
)
from cadenza.interpreters.states.validation.diagnostics import Code, Diagnostic, aws_message

__all__ = [
    "Code",
    "Diagnosis",
    "Diagnostic",
    "InvalidStatesDefinition",
    "StatesDefinition",
    "UnloadableStatesDefinition",
    "aws_message",
    "definition_warnings",
    "diagnose",
    "validate_definition",
    "validate_state_machine_definition",
]
