"""Retry and Catch (spec §8): retrier and catcher shapes, ``ErrorEquals`` rules."""

from __future__ import annotations

from typing import Any

from cadenza.interpreters.states.validation import jsonata_fields, messages, templates
from cadenza.interpreters.states.validation.context import JSONATA, Checker
from cadenza.interpreters.states.validation.fields import (
    CATCHER_FIELDS,
    JITTER_STRATEGIES,
    RETRIER_FIELDS,
    STATES_ALL,
    other_language,
)
from cadenza.interpreters.states.validation.loading import child_location, item_location


def check_retry(checker: Checker, value: Any, location: str) -> None:
    """Check a ``Retry`` list at ``location``."""
    if not isinstance(value, list):
        checker.report(location, messages.wrong_type("Retry", "an array"))
        return
    for index, retrier in enumerate(value):
        where = item_location(location, index)
        if not isinstance(retrier, dict):
            checker.report(where, messages.wrong_type("Retry", "an array of objects"))
            continue
        for key in retrier:
            if key not in RETRIER_FIELDS:
                checker.report(where, messages.field_not_supported(key))
        _check_error_equals(checker, retrier, where, last=index == len(value) - 1)
        _integer(checker, retrier, "IntervalSeconds", where, least=1)
        _integer(checker, retrier, "MaxAttempts", where, least=0)
        _integer(checker, retrier, "MaxDelaySeconds", where, least=1)
        if "BackoffRate" in retrier:
            rate = retrier["BackoffRate"]
            if not _is_number(rate) or rate < 1:
                checker.report(
                    child_location(where, "BackoffRate"),
                    messages.out_of_range("BackoffRate", "a number not less than 1.0"),
                )
        if "JitterStrategy" in retrier and retrier["JitterStrategy"] not in JITTER_STRATEGIES:
            checker.report(
                child_location(where, "JitterStrategy"),
                messages.value_not_allowed(
                    "JitterStrategy", JITTER_STRATEGIES, retrier["JitterStrategy"]
                ),
            )


def check_catch(checker: Checker, value: Any, location: str, language: str) -> None:
    """Check a ``Catch`` list at ``location`` (targets are checked with the graph)."""
    if not isinstance(value, list):
        checker.report(location, messages.wrong_type("Catch", "an array"))
        return
    allowed = CATCHER_FIELDS[language]
    for index, catcher in enumerate(value):
        where = item_location(location, index)
        if not isinstance(catcher, dict):
            checker.report(where, messages.wrong_type("Catch", "an array of objects"))
            continue
        for key in catcher:
            if key in allowed:
                continue
            if key in CATCHER_FIELDS[other_language(language)]:
                checker.report(
                    where,
                    messages.field_needs_other_language(key, language, other_language(language)),
                )
            else:
                checker.report(where, messages.field_not_supported(key))
        _check_error_equals(checker, catcher, where, last=index == len(value) - 1)
        if "Next" not in catcher:
            checker.report(where, messages.field_required("Next"))
        elif not isinstance(catcher["Next"], str):
            checker.report(child_location(where, "Next"), messages.wrong_type("Next", "a string"))
        if language == JSONATA:
            for key in ("Output", "Assign"):
                if key in catcher:
                    jsonata_fields.check_template(
                        checker, catcher[key], key, child_location(where, key)
                    )
        else:
            if "ResultPath" in catcher:
                templates.check_reference_path(checker, catcher, "ResultPath", where)
            if "Assign" in catcher:
                templates.check_assign(checker, catcher["Assign"], child_location(where, "Assign"))


def _check_error_equals(checker: Checker, handler: dict[str, Any], where: str, last: bool) -> None:
    if "ErrorEquals" not in handler:
        checker.report(where, messages.field_required("ErrorEquals"))
        return
    names = handler["ErrorEquals"]
    location = child_location(where, "ErrorEquals")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        checker.report(location, messages.wrong_type("ErrorEquals", "a non-empty array of strings"))
        return
    # Any other name is accepted, ``States.``-prefixed ones too (as AWS does): the
    # spec only forbids a *reported* error to start with ``States.``.
    if STATES_ALL in names and (len(names) != 1 or not last):
        checker.report(location, messages.states_all_not_last())


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _integer(checker: Checker, handler: dict[str, Any], key: str, where: str, least: int) -> None:
    if key not in handler:
        return
    value = handler[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        checker.report(
            child_location(where, key),
            messages.out_of_range(key, f"an integer not less than {least}"),
        )
