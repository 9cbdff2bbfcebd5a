"""JSONPath mode fields: path fields, reference paths and payload templates.

A payload template (``Parameters``, ``ItemSelector``, ``ResultSelector``,
JSONPath ``Assign``) is any JSON value; inside it, an object key ending in
``.$`` must hold a path, a variable reference or an intrinsic call. Problems
inside a template are located at the template's field, as AWS reports them.
"""

from __future__ import annotations

import re
from typing import Any

from cadenza.interpreters.states.validation import messages, paths
from cadenza.interpreters.states.validation.context import Checker
from cadenza.interpreters.states.validation.diagnostics import Category
from cadenza.interpreters.states.validation.loading import child_location

_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DYNAMIC_SUFFIX = ".$"


def check_path(checker: Checker, obj: dict[str, Any], key: str, where: str) -> None:
    """``obj[key]`` must be a path or null (InputPath, OutputPath, ItemsPath)."""
    value = obj[key]
    if value is None:
        return
    if not isinstance(value, str) or not paths.is_path(value):
        checker.report(
            child_location(where, key),
            messages.invalid_path(key),
            category=Category.EXPRESSION,
            expression=value if isinstance(value, str) else None,
        )


def check_reference_path(
    checker: Checker,
    obj: dict[str, Any],
    key: str,
    where: str,
    *,
    nullable: bool = True,
    intrinsics: bool = False,
) -> None:
    """``obj[key]`` must name one node (ResultPath, ``*Path`` value fields)."""
    value = obj[key]
    if value is None and nullable:
        return
    if isinstance(value, str):
        if paths.is_reference_path(value):
            return
        if intrinsics and paths.is_intrinsic_call(value) and paths.intrinsic_problem(value) is None:
            return
    checker.report(
        child_location(where, key),
        messages.invalid_reference_path(key),
        category=Category.EXPRESSION,
        expression=value if isinstance(value, str) else None,
    )


def check_payload_template(checker: Checker, value: Any, field: str, location: str) -> None:
    """Every ``.$`` key at any depth of ``value`` must hold a path or an intrinsic call."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and key.endswith(DYNAMIC_SUFFIX):
                if not isinstance(item, str) or not paths.is_path_or_intrinsic(item):
                    checker.report(
                        location,
                        messages.invalid_path_or_intrinsic(key),
                        category=Category.EXPRESSION,
                        expression=item if isinstance(item, str) else None,
                    )
            else:
                check_payload_template(checker, item, field, location)
    elif isinstance(value, list):
        for item in value:
            check_payload_template(checker, item, field, location)


def check_assign(checker: Checker, value: Any, location: str) -> None:
    """JSONPath ``Assign``: an object of variables, each literal or ``name.$``."""
    if not isinstance(value, dict):
        checker.report(location, messages.wrong_type("Assign", "an object"))
        return
    for key in value:
        check_variable_name(checker, key, location)
    check_payload_template(checker, value, "Assign", location)


def check_variable_name(checker: Checker, key: str, location: str) -> None:
    """An ``Assign`` key (without its ``.$``) must be an identifier other than ``states``."""
    name = key[: -len(DYNAMIC_SUFFIX)] if key.endswith(DYNAMIC_SUFFIX) else key
    if not _VARIABLE_NAME.fullmatch(name) or name == paths.RESERVED_VARIABLE:
        checker.report(location, messages.invalid_variable_name(name))
