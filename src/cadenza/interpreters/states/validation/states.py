"""Field rules per state type (spec §2), for both query languages.

:func:`check_state` checks one state's own fields and returns the nested
scopes (Parallel branches, Map processors) for the caller to walk, so this
module never recurses into scopes itself.
"""

from __future__ import annotations

from typing import Any

from cadenza.interpreters.states.validation import (
    choice,
    error_handling,
    express,
    jsonata_fields,
    messages,
    templates,
    values,
)
from cadenza.interpreters.states.validation.context import (
    JSONATA,
    JSONPATH,
    QUERY_LANGUAGES,
    Checker,
)
from cadenza.interpreters.states.validation.fields import (
    FIELDS,
    STATE_TYPES,
    TRANSITION,
    other_language,
)
from cadenza.interpreters.states.validation.loading import child_location
from cadenza.interpreters.states.validation.parallel_map import check_map, check_parallel

NestedScopes = list[tuple[Any, str]]
"""(scope object, its location) pairs: what a state contains that is walked next."""


def check_state(checker: Checker, state: Any, location: str) -> NestedScopes:
    """Check one state at ``location`` (``…/States/Name``); return its nested scopes."""
    if not isinstance(state, dict):
        checker.report(location, messages.wrong_type("State", "an object"))
        return []
    if "Type" not in state:
        checker.report(location, messages.field_required("Type"))
        return []
    kind = state["Type"]
    if kind not in STATE_TYPES:
        checker.report(child_location(location, "Type"), messages.unknown_state_type(STATE_TYPES))
        return []
    language = state_language(checker, state, location)
    _check_field_names(checker, state, kind, language, location)
    if kind not in ("Choice", "Succeed", "Fail"):
        _check_transition(checker, state, location)
    _check_data_fields(checker, state, location, language)
    nested: NestedScopes = []
    if kind == "Task":
        _check_task(checker, state, location, language)
    elif kind == "Choice":
        choice.check_choices(checker, state, location, language)
    elif kind == "Wait":
        _check_wait(checker, state, location, language)
    elif kind == "Fail":
        _check_fail(checker, state, location, language)
    elif kind == "Parallel":
        nested = check_parallel(checker, state, location)
    elif kind == "Map":
        nested = check_map(checker, state, location, language)
    if "Retry" in state and "Retry" in FIELDS[language][kind]:
        error_handling.check_retry(checker, state["Retry"], child_location(location, "Retry"))
    if "Catch" in state and "Catch" in FIELDS[language][kind]:
        error_handling.check_catch(
            checker, state["Catch"], child_location(location, "Catch"), language
        )
    return nested


def state_language(checker: Checker, state: dict[str, Any], location: str) -> str:
    """The state's query language: its own ``QueryLanguage``, else the machine's."""
    if "QueryLanguage" not in state:
        return checker.machine_language
    value = state["QueryLanguage"]
    if value not in QUERY_LANGUAGES:
        checker.report(
            child_location(location, "QueryLanguage"),
            messages.value_not_allowed("QueryLanguage", QUERY_LANGUAGES, value),
        )
        return checker.machine_language
    if checker.machine_language == JSONATA and value == JSONPATH:
        checker.report(location, messages.query_language_downgrade())
        return JSONATA
    return str(value)


def _check_field_names(
    checker: Checker, state: dict[str, Any], kind: str, language: str, location: str
) -> None:
    allowed = FIELDS[language][kind]
    other = other_language(language)
    for key in state:
        if key in allowed:
            continue
        if key in FIELDS[other][kind]:
            checker.report(location, messages.field_needs_other_language(key, language, other))
        else:
            checker.report(location, messages.field_not_supported(key))


def _check_transition(checker: Checker, state: dict[str, Any], location: str) -> None:
    present = [k for k in sorted(TRANSITION) if k in state]
    if not present:
        checker.report(location, messages.next_or_end())
    elif len(present) == 2:
        checker.report(location, messages.next_and_end())
    if "Next" in state and not isinstance(state["Next"], str):
        checker.report(child_location(location, "Next"), messages.wrong_type("Next", "a string"))
    if "End" in state and state["End"] is not True:
        checker.report(child_location(location, "End"), messages.end_must_be_true())


def _check_data_fields(
    checker: Checker, state: dict[str, Any], location: str, language: str
) -> None:
    """The data-flow fields every state type shares, by query language."""
    if language == JSONPATH:
        for key in ("InputPath", "OutputPath"):
            if key in state:
                templates.check_path(checker, state, key, location)
        if "ResultPath" in state:
            templates.check_reference_path(checker, state, "ResultPath", location)
        for key in ("Parameters", "ResultSelector", "ItemSelector"):
            if key in state:
                templates.check_payload_template(
                    checker, state[key], key, child_location(location, key)
                )
        if "Assign" in state:
            templates.check_assign(checker, state["Assign"], child_location(location, "Assign"))
        return
    for key in ("Arguments", "Output", "Items", "ItemSelector"):
        if key in state:
            jsonata_fields.check_template(checker, state[key], key, child_location(location, key))
    if "Assign" in state:
        assign = state["Assign"]
        where = child_location(location, "Assign")
        if not isinstance(assign, dict):
            checker.report(where, messages.wrong_type("Assign", "an object"))
        else:
            for key in assign:
                templates.check_variable_name(checker, key, where)
            jsonata_fields.check_template(checker, assign, "Assign", where)


def _check_task(checker: Checker, state: dict[str, Any], location: str, language: str) -> None:
    if "Resource" not in state:
        checker.report(location, messages.field_required("Resource"))
    else:
        resource = state["Resource"]
        where = child_location(location, "Resource")
        if not isinstance(resource, str):
            checker.report(where, messages.wrong_type("Resource", "a string"))
        elif not resource.startswith("arn:"):
            checker.report(where, messages.invalid_resource(resource))
        else:
            express.check_resource(checker, resource, where)
    values.check_exclusive(checker, state, ("TimeoutSeconds", "TimeoutSecondsPath"), location)
    values.check_exclusive(checker, state, ("HeartbeatSeconds", "HeartbeatSecondsPath"), location)
    values.check_integer_field(checker, state, "TimeoutSeconds", location, language, least=1)
    values.check_integer_field(checker, state, "HeartbeatSeconds", location, language, least=1)
    values.check_path_fields(
        checker, state, ("TimeoutSecondsPath", "HeartbeatSecondsPath"), location
    )
    timeout, heartbeat = state.get("TimeoutSeconds"), state.get("HeartbeatSeconds")
    if isinstance(timeout, int) and isinstance(heartbeat, int) and heartbeat >= timeout:
        checker.report(
            child_location(location, "HeartbeatSeconds"), messages.heartbeat_not_below_timeout()
        )
    if "Credentials" in state:
        _check_credentials(
            checker, state["Credentials"], child_location(location, "Credentials"), language
        )


def _check_credentials(checker: Checker, value: Any, where: str, language: str) -> None:
    if not isinstance(value, dict):
        checker.report(where, messages.wrong_type("Credentials", "an object"))
        return
    names = ("RoleArn",) if language == JSONATA else ("RoleArn", "RoleArn.$")
    for key in value:
        if key not in names:
            checker.report(where, messages.field_not_supported(key))
    present = [n for n in names if n in value]
    if not present:
        checker.report(where, messages.field_required("RoleArn"))
    elif len(present) > 1:
        checker.report(where, messages.mutually_exclusive(present))
    elif present[0] == "RoleArn.$":
        templates.check_payload_template(checker, value, "Credentials", where)
    else:
        values.check_string_field(checker, value, "RoleArn", where, language)


def _check_wait(checker: Checker, state: dict[str, Any], location: str, language: str) -> None:
    names = (
        ("Seconds", "Timestamp")
        if language == JSONATA
        else ("Seconds", "Timestamp", "SecondsPath", "TimestampPath")
    )
    present = [n for n in names if n in state]
    if len(present) != 1:
        checker.report(location, messages.exactly_one_of(names))
    values.check_integer_field(checker, state, "Seconds", location, language, least=0)
    values.check_path_fields(checker, state, ("SecondsPath", "TimestampPath"), location)
    if "Timestamp" in state:
        stamp = state["Timestamp"]
        where = child_location(location, "Timestamp")
        if language == JSONATA and jsonata_fields.expression_of(stamp) is not None:
            jsonata_fields.check_expression(checker, stamp, "Timestamp", where)
        elif not isinstance(stamp, str) or not values.is_rfc3339(stamp):
            checker.report(where, messages.invalid_timestamp())


def _check_fail(checker: Checker, state: dict[str, Any], location: str, language: str) -> None:
    for literal, path in (("Error", "ErrorPath"), ("Cause", "CausePath")):
        values.check_exclusive(checker, state, (literal, path), location)
        values.check_string_field(checker, state, literal, location, language)
        if path in state:
            templates.check_reference_path(
                checker, state, path, location, nullable=False, intrinsics=True
            )
