"""Checks of scalar field values shared by several state types."""

from __future__ import annotations

import calendar
import re
from typing import Any

from cadenza.interpreters.states.validation import jsonata_fields, messages, templates
from cadenza.interpreters.states.validation.context import JSONATA, Checker
from cadenza.interpreters.states.validation.loading import child_location

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))"
)


def is_rfc3339(text: str) -> bool:
    """Whether ``text`` is an RFC 3339 date-time with a zone and real calendar values."""
    match = _RFC3339.fullmatch(text)
    if not match:
        return False
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(year, month)[1]:
        return False
    if hour > 23 or minute > 59 or second > 60:
        return False
    zone_hour, zone_minute = match.group(9), match.group(10)
    return zone_hour is None or (int(zone_hour) <= 23 and int(zone_minute) <= 59)


def is_integer(value: Any) -> bool:
    """A JSON integer (``true`` is not one; ``2.0`` is not one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A JSON number."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_exclusive(
    checker: Checker, state: dict[str, Any], names: tuple[str, ...], where: str
) -> None:
    """At most one of ``names`` may be present in ``state``."""
    present = [n for n in names if n in state]
    if len(present) > 1:
        checker.report(where, messages.mutually_exclusive(present))


def check_integer_field(
    checker: Checker,
    state: dict[str, Any],
    key: str,
    where: str,
    language: str,
    *,
    least: int,
    most: int | None = None,
) -> None:
    """``state[key]``: an integer in range, or (JSONata) an expression."""
    if key not in state:
        return
    value = state[key]
    location = child_location(where, key)
    bound = f"an integer not less than {least}" + (f" and not more than {most}" if most else "")
    if language == JSONATA and jsonata_fields.expression_of(value) is not None:
        jsonata_fields.check_expression(checker, value, key, location)
        return
    if not is_integer(value) or value < least or (most is not None and value > most):
        checker.report(location, messages.out_of_range(key, bound))


def check_number_field(
    checker: Checker,
    state: dict[str, Any],
    key: str,
    where: str,
    language: str,
    *,
    least: float,
    most: float,
) -> None:
    """``state[key]``: a number in ``[least, most]``, or (JSONata) an expression."""
    if key not in state:
        return
    value = state[key]
    location = child_location(where, key)
    if language == JSONATA and jsonata_fields.expression_of(value) is not None:
        jsonata_fields.check_expression(checker, value, key, location)
        return
    if not is_number(value) or not least <= value <= most:
        checker.report(location, messages.out_of_range(key, f"a number from {least} to {most}"))


def check_string_field(
    checker: Checker, state: dict[str, Any], key: str, where: str, language: str
) -> None:
    """``state[key]``: a string; in JSONata mode a ``{% %}`` string is parsed."""
    if key not in state:
        return
    value = state[key]
    location = child_location(where, key)
    if not isinstance(value, str):
        checker.report(location, messages.wrong_type(key, "a string"))
    elif language == JSONATA:
        jsonata_fields.check_expression(checker, value, key, location)


def check_path_fields(
    checker: Checker, state: dict[str, Any], keys: tuple[str, ...], where: str
) -> None:
    """``*Path`` value fields: reference paths (not null)."""
    for key in keys:
        if key in state:
            templates.check_reference_path(checker, state, key, where, nullable=False)
