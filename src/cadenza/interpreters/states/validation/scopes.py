"""Scopes and references: the top level, nested scopes, transitions and reachability.

A *scope* is an object with ``StartAt`` and ``States`` — the machine itself,
a Parallel branch, a Map processor. Transitions (``Next``, ``Default``,
``Choices[].Next``, ``Catch[].Next``) must name a state of the same scope.
Each scope is checked like this, in AWS's order: first its states' own fields
(nested scopes walked depth-first), then its transition targets, then — if
no state can end the scope — ``MISSING_END_STATE`` (which suppresses the
reachability walk), else every state not reachable from ``StartAt``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cadenza.interpreters.states.validation import messages
from cadenza.interpreters.states.validation.context import Checker
from cadenza.interpreters.states.validation.diagnostics import Code
from cadenza.interpreters.states.validation.fields import STATE_TYPES
from cadenza.interpreters.states.validation.loading import child_location, item_location
from cadenza.interpreters.states.validation.states import check_state

MAX_STATE_NAME = 80


def check_scope(
    checker: Checker, scope: dict[str, Any], location: str, *, report_missing: bool = True
) -> None:
    """Check the scope at ``location`` (``/`` for the machine) and everything inside it."""
    if report_missing:
        for key in ("StartAt", "States"):
            if key not in scope:
                checker.report(location, messages.field_required(key))
    start = scope.get("StartAt")
    if "StartAt" in scope and not isinstance(start, str):
        checker.report(
            child_location(location, "StartAt"), messages.wrong_type("StartAt", "a string")
        )
    states = scope.get("States")
    states_location = child_location(location, "States")
    if "States" in scope and (not isinstance(states, dict) or not states):
        message = (
            messages.must_be_non_empty("States")
            if isinstance(states, dict)
            else messages.wrong_type("States", "an object")
        )
        checker.report(states_location, message)
        return
    if not isinstance(states, dict):
        return
    for name, state in states.items():
        state_location = child_location(states_location, name)
        if len(name) > MAX_STATE_NAME or not name:
            checker.report(
                state_location, messages.state_name_too_long(name), code=Code.INVALID_STATE_NAME
            )
        for nested, nested_location in check_state(checker, state, state_location):
            check_scope(checker, nested, nested_location)
    _check_graph(
        checker, states, states_location, start if isinstance(start, str) else None, location
    )


def transitions(state: Any, location: str) -> Iterator[tuple[str, str]]:
    """Every (target, location of the field naming it) of one state."""
    if not isinstance(state, dict):
        return
    if isinstance(state.get("Next"), str):
        yield state["Next"], child_location(location, "Next")
    if state.get("Type") == "Choice":
        if isinstance(state.get("Default"), str):
            yield state["Default"], child_location(location, "Default")
        choices = state.get("Choices")
        if isinstance(choices, list):
            where = child_location(location, "Choices")
            for index, rule in enumerate(choices):
                if isinstance(rule, dict) and isinstance(rule.get("Next"), str):
                    yield rule["Next"], child_location(item_location(where, index), "Next")
    catchers = state.get("Catch")
    if isinstance(catchers, list):
        where = child_location(location, "Catch")
        for index, catcher in enumerate(catchers):
            if isinstance(catcher, dict) and isinstance(catcher.get("Next"), str):
                yield catcher["Next"], child_location(item_location(where, index), "Next")


def is_terminal(state: Any) -> bool:
    """Whether the state can end its scope (``End: true``, Succeed or Fail)."""
    return isinstance(state, dict) and (
        state.get("End") is True or state.get("Type") in ("Succeed", "Fail")
    )


def _has_known_type(state: Any) -> bool:
    return isinstance(state, dict) and state.get("Type") in STATE_TYPES


def _check_graph(
    checker: Checker,
    states: dict[str, Any],
    states_location: str,
    start: str | None,
    scope_location: str,
) -> None:
    edges: dict[str, list[str]] = {}
    for name, state in states.items():
        targets = []
        for target, where in transitions(state, child_location(states_location, name)):
            if target in states:
                targets.append(target)
            else:
                checker.report(
                    where, messages.missing_target(target), code=Code.MISSING_TRANSITION_TARGET
                )
        edges[name] = targets
    if start is not None and start not in states:
        checker.report(
            child_location(scope_location, "StartAt"),
            messages.missing_start(start),
            code=Code.MISSING_TRANSITION_TARGET,
        )
        return
    if not all(_has_known_type(state) for state in states.values()):
        return  # a state of unknown type may or may not end the scope: already reported
    if not any(is_terminal(state) for state in states.values()):
        checker.report(None, messages.no_terminal_state(), code=Code.MISSING_END_STATE)
        return
    if start is None:
        return
    reached = {start}
    frontier = [start]
    while frontier:
        for target in edges[frontier.pop()]:
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    for name in states:
        if name not in reached:
            checker.report(
                child_location(states_location, name),
                messages.unreachable(name),
                code=Code.MISSING_TRANSITION_TARGET,
            )
