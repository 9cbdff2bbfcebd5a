"""The two entry points: register-time validation and the ValidateStateMachineDefinition API.

Both run the same checks (:func:`diagnose`); they differ in what they return.
:func:`validate_definition` raises one error listing every problem, or returns
the checked definition; :func:`validate_state_machine_definition` never raises
for a bad definition and answers as AWS's API does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cadenza.interpreters.states.validation import messages, values
from cadenza.interpreters.states.validation.context import (
    JSONPATH,
    MACHINE_TYPES,
    QUERY_LANGUAGES,
    STANDARD,
    Checker,
    line_of,
)
from cadenza.interpreters.states.validation.diagnostics import (
    INVALID_DEFINITION,
    Code,
    Diagnostic,
    aws_message,
)
from cadenza.interpreters.states.validation.fields import TOP_LEVEL_FIELDS, TOP_LEVEL_REQUIRED
from cadenza.interpreters.states.validation.loading import (
    NotJson,
    ParsedJson,
    child_location,
    load_document,
)
from cadenza.interpreters.states.validation.path_warnings import path_warnings
from cadenza.interpreters.states.validation.scopes import check_scope
from cadenza.model.errors import DefinitionError, DefinitionLoadError, Problem

SEVERITIES = ("ERROR", "WARNING")


@dataclass(frozen=True)
class StatesDefinition:
    """A definition that passed validation, with its machine-wide query language.

    ``document`` is the parsed ASL object; ``lines`` maps AWS locations
    (``/States/X/Next``) to source lines when the definition came as JSON text.
    A state's own query language is :meth:`state_query_language`: its
    ``QueryLanguage`` or, failing that, the machine's (nested scopes inherit
    the machine's, not their enclosing state's).
    """

    document: Mapping[str, Any]
    query_language: str = JSONPATH
    machine_type: str = STANDARD
    origin: str | None = None
    lines: Mapping[str, int] = field(default_factory=dict)

    @property
    def start_at(self) -> str:
        """The first state of the machine."""
        return str(self.document["StartAt"])

    @property
    def states(self) -> Mapping[str, Any]:
        """The top-level states, by name."""
        states: Mapping[str, Any] = self.document["States"]
        return states

    def state_query_language(self, state: Mapping[str, Any]) -> str:
        """The query language one state runs in."""
        return str(state.get("QueryLanguage", self.query_language))

    def line_of(self, location: str) -> int | None:
        """The source line of an AWS location, or of its nearest enclosing one."""
        return line_of(self.lines, location) if self.lines else None


class _AwsDiagnostics:
    """What both States definition errors add: AWS's diagnostics and message."""

    diagnostics: tuple[Diagnostic, ...]
    aws_message: str
    source: str | None

    def __init__(self, diagnostics: Sequence[Diagnostic], source: str | None = None) -> None:
        self.diagnostics = tuple(diagnostics)
        self.aws_message = aws_message(self.diagnostics)
        problems = [d.to_problem() for d in self.diagnostics]
        super().__init__(self.aws_message, problems, source)  # type: ignore[call-arg]

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.diagnostics, self.source))

    def to_aws(self) -> dict[str, str]:
        """The error as Step Functions' API answers it."""
        return {"code": INVALID_DEFINITION, "message": self.aws_message}

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = super().to_dict()  # type: ignore[misc]
        out["aws"] = self.to_aws()
        return out


class InvalidStatesDefinition(_AwsDiagnostics, DefinitionError):
    """The States definition is invalid.

    ``message`` and ``aws_message`` are AWS's InvalidDefinition text;
    ``problems`` lists each problem with its path and line; ``diagnostics``
    keeps AWS's codes in AWS's order.
    """


class UnloadableStatesDefinition(_AwsDiagnostics, DefinitionLoadError):
    """The States definition is not a JSON object."""


@dataclass(frozen=True)
class Diagnosis:
    """What :func:`diagnose` found: the document (if it loaded) and every problem."""

    loaded: ParsedJson | None
    diagnostics: tuple[Diagnostic, ...]
    query_language: str = JSONPATH

    @property
    def loadable(self) -> bool:
        """Whether the source was a JSON object at all."""
        return self.loaded is not None and isinstance(self.loaded.value, Mapping)

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        """The diagnostics that make the definition invalid."""
        return tuple(d for d in self.diagnostics if d.severity == "ERROR")

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        """The diagnostics that point at likely mistakes without invalidating it."""
        return tuple(d for d in self.diagnostics if d.severity == "WARNING")


def diagnose(source: str | Mapping[str, Any], machine_type: str = STANDARD) -> Diagnosis:
    """Run every check on ``source``; never raises for a bad definition."""
    if machine_type not in MACHINE_TYPES:
        raise ValueError(f"machine type must be one of {MACHINE_TYPES}, not {machine_type!r}")
    if isinstance(source, str) and not source.strip():
        return Diagnosis(None, (_document_problem(messages.not_json_object()),))
    try:
        loaded = load_document(source)
    except NotJson as exc:
        problem = Diagnostic(
            code=Code.INVALID_JSON_DESCRIPTION,
            message=messages.not_json(str(exc), exc.where),
            location=exc.where,
            line=exc.line,
        )
        return Diagnosis(None, (problem,))
    document = loaded.value
    if not isinstance(document, Mapping):
        return Diagnosis(loaded, (_document_problem(messages.not_json_object()),))
    language = document.get("QueryLanguage", JSONPATH)
    checker = Checker(
        machine_type=machine_type,
        machine_language=language if language in QUERY_LANGUAGES else JSONPATH,
        lines=loaded.lines,
    )
    _check_top_level(checker, dict(document))
    for parent, key in loaded.duplicate_keys:
        if parent.endswith("/States"):
            checker.report(
                child_location(parent, key),
                messages.duplicate_state_name(key),
                code=Code.DUPLICATE_STATE_NAME,
            )
    found = list(checker.diagnostics)
    if not found:
        # Warnings only for a definition that is otherwise valid: a broken one
        # would give noise about fields that are wrong anyway.
        found.extend(path_warnings(document, loaded.lines))
    return Diagnosis(loaded, tuple(found), checker.machine_language)


def _document_problem(message: str) -> Diagnostic:
    return Diagnostic(code=Code.SCHEMA_VALIDATION_FAILED, message=message, location=None)


def _check_top_level(checker: Checker, document: dict[str, Any]) -> None:
    root = "/"
    for key in document:
        if key not in TOP_LEVEL_FIELDS:
            checker.report(root, messages.field_not_supported(key))
    missing = [k for k in TOP_LEVEL_REQUIRED if k not in document]
    if missing:
        checker.report(root, messages.fields_required(missing))
        if len(missing) > 1:
            return
    if "QueryLanguage" in document and document["QueryLanguage"] not in QUERY_LANGUAGES:
        checker.report(
            child_location(root, "QueryLanguage"),
            messages.value_not_allowed("QueryLanguage", QUERY_LANGUAGES, document["QueryLanguage"]),
        )
    if "Comment" in document and not isinstance(document["Comment"], str):
        checker.report(child_location(root, "Comment"), messages.wrong_type("Comment", "a string"))
    if "Version" in document and document["Version"] != "1.0":
        checker.report(
            child_location(root, "Version"),
            messages.value_not_allowed("Version", ["1.0"], document["Version"]),
        )
    if "TimeoutSeconds" in document:
        timeout = document["TimeoutSeconds"]
        if not values.is_integer(timeout) or timeout < 1:
            checker.report(
                child_location(root, "TimeoutSeconds"),
                messages.out_of_range("TimeoutSeconds", "a positive integer"),
            )
    check_scope(checker, document, root, report_missing=False)


def validate_definition(
    source: str | Mapping[str, Any],
    *,
    machine_type: str = STANDARD,
    origin: str | None = None,
) -> StatesDefinition:
    """Check a States definition as CreateStateMachine does; return it or raise.

    Raises :class:`UnloadableStatesDefinition` (a ``DefinitionLoadError``) when
    ``source`` is not a JSON object, and :class:`InvalidStatesDefinition` (a
    ``DefinitionError``) listing every problem otherwise. ``origin`` names the
    source (a file name) in Cadenza's messages.
    """
    diagnosis = diagnose(source, machine_type)
    if not diagnosis.loadable:
        raise UnloadableStatesDefinition(diagnosis.errors, origin)
    if diagnosis.errors:
        raise InvalidStatesDefinition(diagnosis.errors, origin)
    assert diagnosis.loaded is not None
    return StatesDefinition(
        document=diagnosis.loaded.value,
        query_language=diagnosis.query_language,
        machine_type=machine_type,
        origin=origin,
        lines=diagnosis.loaded.lines,
    )


def definition_warnings(
    source: str | Mapping[str, Any], machine_type: str = STANDARD
) -> list[Problem]:
    """The warnings of a valid definition as Cadenza problems (path, message,
    line; category ``warning``); none for an invalid one."""
    return [d.to_problem() for d in diagnose(source, machine_type).warnings]


def validate_state_machine_definition(
    definition: str,
    *,
    machine_type: str = STANDARD,
    severity: str | None = None,
    max_results: int | None = None,
) -> dict[str, Any]:
    """The ValidateStateMachineDefinition response for ``definition`` (JSON text).

    ``severity`` is the least severity reported (``ERROR``, the default, or
    ``WARNING``); ``max_results`` caps the diagnostics listed (``truncated``
    says whether some were left out). ``result`` is ``FAIL`` when any error
    was found, whether listed or not.
    """
    least = severity or "ERROR"
    if least not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, not {severity!r}")
    diagnosis = diagnose(definition, machine_type)
    shown = [d for d in diagnosis.diagnostics if least == "WARNING" or d.severity == "ERROR"]
    truncated = max_results is not None and max_results > 0 and len(shown) > max_results
    if truncated and max_results is not None:
        shown = shown[:max_results]
    return {
        "result": "FAIL" if diagnosis.errors else "OK",
        "diagnostics": [d.to_api() for d in shown],
        "truncated": truncated,
    }
