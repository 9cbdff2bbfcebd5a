"""Parallel and Map (spec §9, §10): branches, processors and the Map's own fields.

Both return their nested scopes — each ``{StartAt, States}`` object with its
location — for the scope walker to check like the top level.
"""

from __future__ import annotations

import re
from typing import Any

from cadenza.interpreters.states.validation import messages, templates, values
from cadenza.interpreters.states.validation.context import JSONPATH, Checker
from cadenza.interpreters.states.validation.diagnostics import Code
from cadenza.interpreters.states.validation.fields import (
    EXECUTION_TYPES,
    PROCESSOR_CONFIG_FIELDS,
    PROCESSOR_FIELDS,
    PROCESSOR_MODES,
    SCOPE_FIELDS,
)
from cadenza.interpreters.states.validation.loading import child_location, item_location

_LABEL_FORBIDDEN = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")
MAX_LABEL = 40


def check_parallel(checker: Checker, state: dict[str, Any], location: str) -> list[tuple[Any, str]]:
    """Check ``Branches``; return each branch with its location."""
    if "Branches" not in state:
        checker.report(location, messages.field_required("Branches"))
        return []
    branches = state["Branches"]
    where = child_location(location, "Branches")
    if not isinstance(branches, list) or not branches:
        checker.report(where, messages.wrong_type("Branches", "a non-empty array"))
        return []
    nested: list[tuple[Any, str]] = []
    for index, branch in enumerate(branches):
        branch_location = item_location(where, index)
        if _check_scope_object(checker, branch, branch_location, SCOPE_FIELDS, "Branches"):
            nested.append((branch, branch_location))
    return nested


def check_map(
    checker: Checker, state: dict[str, Any], location: str, language: str
) -> list[tuple[Any, str]]:
    """Check a Map's fields; return its processor with its location."""
    present = [k for k in ("ItemProcessor", "Iterator") if k in state]
    if not present:
        checker.report(location, messages.field_required("ItemProcessor"))
    elif len(present) > 1:
        checker.report(location, messages.mutually_exclusive(present))
    values.check_exclusive(checker, state, ("ItemSelector", "Parameters"), location)
    for literal, path in (
        ("MaxConcurrency", "MaxConcurrencyPath"),
        ("ToleratedFailureCount", "ToleratedFailureCountPath"),
        ("ToleratedFailurePercentage", "ToleratedFailurePercentagePath"),
    ):
        values.check_exclusive(checker, state, (literal, path), location)
    values.check_integer_field(checker, state, "MaxConcurrency", location, language, least=0)
    values.check_integer_field(checker, state, "ToleratedFailureCount", location, language, least=0)
    values.check_number_field(
        checker, state, "ToleratedFailurePercentage", location, language, least=0, most=100
    )
    values.check_path_fields(
        checker,
        state,
        ("MaxConcurrencyPath", "ToleratedFailureCountPath", "ToleratedFailurePercentagePath"),
        location,
    )
    if language == JSONPATH and "ItemsPath" in state:
        templates.check_path(checker, state, "ItemsPath", location)
    for key in ("ItemReader", "ItemBatcher", "ResultWriter"):
        if key in state and not isinstance(state[key], dict):
            checker.report(child_location(location, key), messages.wrong_type(key, "an object"))
    if "Label" in state:
        _check_label(checker, state["Label"], child_location(location, "Label"))
    nested: list[tuple[Any, str]] = []
    for key in present:
        processor_location = child_location(location, key)
        processor = state[key]
        if _check_scope_object(checker, processor, processor_location, PROCESSOR_FIELDS, key):
            _check_processor_config(checker, processor, processor_location)
            nested.append((processor, processor_location))
    return nested


def _check_scope_object(
    checker: Checker, scope: Any, location: str, allowed: frozenset[str], name: str
) -> bool:
    """A branch or processor: an object with only ``allowed`` fields."""
    if not isinstance(scope, dict):
        checker.report(location, messages.wrong_type(name, "an object"))
        return False
    for key in scope:
        if key not in allowed:
            checker.report(location, messages.field_not_supported(key))
    return True


def _check_processor_config(checker: Checker, processor: dict[str, Any], location: str) -> None:
    if "ProcessorConfig" not in processor:
        return
    config = processor["ProcessorConfig"]
    where = child_location(location, "ProcessorConfig")
    if not isinstance(config, dict):
        checker.report(where, messages.wrong_type("ProcessorConfig", "an object"))
        return
    for key in config:
        if key not in PROCESSOR_CONFIG_FIELDS:
            checker.report(where, messages.field_not_supported(key))
    if "Mode" in config and config["Mode"] not in PROCESSOR_MODES:
        checker.report(
            child_location(where, "Mode"),
            messages.value_not_allowed("Mode", PROCESSOR_MODES, config["Mode"]),
        )
    if "ExecutionType" in config and config["ExecutionType"] not in EXECUTION_TYPES:
        checker.report(
            child_location(where, "ExecutionType"),
            messages.value_not_allowed("ExecutionType", EXECUTION_TYPES, config["ExecutionType"]),
        )
    if config.get("Mode") == "DISTRIBUTED" and "ExecutionType" not in config:
        checker.report(where, messages.field_required("ExecutionType"))


def _check_label(checker: Checker, label: Any, location: str) -> None:
    if (
        not isinstance(label, str)
        or not label
        or len(label) > MAX_LABEL
        or _LABEL_FORBIDDEN.search(label)
    ):
        checker.report(location, messages.invalid_label(str(label)), code=Code.INVALID_LABEL_NAME)
