"""Mocked service integrations, in Step Functions Local's mock configuration format.

A mock configuration (``MockConfigFile.json``) is a JSON object of two parts::

    {"StateMachines": {"<machine>": {"TestCases": {"<case>": {"<state>": "<response>"}}}},
     "MockedResponses": {"<response>": {"0": {"Return": <any JSON>},
                                        "1-2": {"Throw": {"Error": "E", "Cause": "C"}}}}}

A *test case* names, for some Task states of one state machine, the mocked
response each gets. A mocked response is keyed by invocation: the state's
first invocation in the execution is ``"0"``, and ``"1-2"`` covers the second
and third (retries count, and so do a Map's iterations and loops). Each value
is one of ``Return`` (the task's result, as the integration would return it:
for ``lambda:invoke`` the whole Invoke response with its ``Payload``) or
``Throw`` (the task fails with ``Error`` and ``Cause``, for Retry and Catch).

As in Step Functions Local, a mocked response is only looked up when its
state is invoked: an invocation no key covers (past the last one, in a gap,
or of an empty response) fails the execution with ``States.Runtime``, and so
does a mocked activity state (activities cannot be mocked). Everything else
that is malformed (a key that is not a number or range, overlapping ranges,
a response that is not exactly one ``Return`` or ``Throw``, a test case
naming a response that is not defined) is refused when the file is read,
naming the file and the path of the problem.

How it runs: :meth:`MockedTestCase.context` is put into the execution's
start context (``Engine.start(..., context=...)``; ``cadenza run --mock-config
FILE --test-case NAME`` does it). It is recorded in ``ExecutionStarted``, so
the history alone replays the execution. A mocked Task state records the same
events as a real one but asks the engine to run nothing: the interpreter
answers it from the table. States the test case does not name run as usual
(their handlers come from the resource map).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from cadenza.model.errors import InputError

__all__ = ["CONTEXT_KEY", "MockConfig", "MockedTestCase", "mocked_response"]

#: The key of the execution's start context that holds the mocked responses.
CONTEXT_KEY = "mocked_responses"

#: One mocked response as recorded: ``[first, last, {"Return": ...} | {"Throw": ...}]``
#: per range of invocations, in order.
ResponseTable = list[list[Any]]

_KEY = re.compile(r"^(\d+)(?:-(\d+))?$")


def mocked_response(table: ResponseTable, invocation: int) -> dict[str, Any] | None:
    """The response (``{"Return": ...}`` or ``{"Throw": ...}``) for the zero-based
    ``invocation``, or None when no key covers it."""
    for first, last, response in table:
        if first <= invocation <= last:
            return dict(response)
    return None


@dataclass(frozen=True)
class MockedTestCase:
    """One test case: the mocked response table of each state it names."""

    state_machine: str
    name: str
    responses: Mapping[str, ResponseTable] = field(default_factory=dict)

    def context(self) -> dict[str, Any]:
        """The start context that makes an execution use these responses."""
        return {CONTEXT_KEY: {state: list(table) for state, table in self.responses.items()}}


@dataclass(frozen=True)
class MockConfig:
    """A checked mock configuration: test cases per state machine, and responses."""

    origin: str
    #: state machine -> test case -> state -> mocked response name
    state_machines: Mapping[str, Mapping[str, Mapping[str, str]]]
    #: mocked response name -> its table by invocation
    responses: Mapping[str, ResponseTable]

    @classmethod
    def read(cls, path: str | Path) -> MockConfig:
        """Read and check the file at ``path`` (``InputError`` naming it when wrong)."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(
                f"cannot read mock configuration {path}: {exc.strerror or exc}"
            ) from exc
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise InputError(f"mock configuration {path} is not JSON: {exc}") from exc
        return cls.parse(document, origin=str(path))

    @classmethod
    def parse(cls, document: Any, *, origin: str = "mock configuration") -> MockConfig:
        """Check a loaded document; ``InputError`` naming ``origin`` and the path."""
        if not isinstance(document, dict):
            _fail(origin, "", "must be a JSON object with StateMachines and MockedResponses")
        responses = {
            str(name): _table(origin, f"MockedResponses.{name}", value)
            for name, value in _object(
                origin, "MockedResponses", document.get("MockedResponses", {})
            ).items()
        }
        if "StateMachines" not in document:
            _fail(origin, "StateMachines", "is missing")
        machines: dict[str, dict[str, dict[str, str]]] = {}
        for machine, spec in _object(origin, "StateMachines", document["StateMachines"]).items():
            where = f"StateMachines.{machine}"
            spec = _object(origin, where, spec)
            if "TestCases" not in spec:
                _fail(origin, where, "has no TestCases")
            cases: dict[str, dict[str, str]] = {}
            for case, states in _object(origin, f"{where}.TestCases", spec["TestCases"]).items():
                case_where = f"{where}.TestCases.{case}"
                mapped: dict[str, str] = {}
                for state, response in _object(origin, case_where, states).items():
                    if not isinstance(response, str) or response not in responses:
                        _fail(
                            origin,
                            f"{case_where}.{state}",
                            f"names the mocked response {response!r}, which MockedResponses "
                            "does not define",
                        )
                    mapped[str(state)] = response
                cases[str(case)] = mapped
            machines[str(machine)] = cases
        return cls(origin, machines, responses)

    def test_case(self, name: str, state_machine: str | None = None) -> MockedTestCase:
        """The test case ``name`` of ``state_machine``.

        The state machine is found by name when the file has it; otherwise (a
        local definition named after its file, say) it is the one state machine
        that has a test case of that name.
        """
        machine = state_machine if state_machine in self.state_machines else None
        if machine is None:
            having = [m for m, cases in self.state_machines.items() if name in cases]
            if len(having) != 1:
                known = sorted(
                    f"{m}: {c}" for m, cases in self.state_machines.items() for c in cases
                )
                if state_machine is not None:
                    lead = f"no test case {name!r} for state machine {state_machine!r}"
                else:
                    lead = f"test case {name!r} is in {len(having)} state machines"
                raise InputError(
                    f"{self.origin}: {lead} (test cases: {', '.join(known) or 'none'})"
                )
            machine = having[0]
        cases = self.state_machines[machine]
        if name not in cases:
            raise InputError(
                f"{self.origin}: state machine {machine!r} has no test case {name!r} "
                f"(test cases: {', '.join(sorted(cases)) or 'none'})"
            )
        table = {state: self.responses[response] for state, response in cases[name].items()}
        return MockedTestCase(machine, name, table)


def _fail(origin: str, where: str, message: str) -> NoReturn:
    raise InputError(f"{origin}: {where or '(document)'} {message}")


def _object(origin: str, where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        _fail(origin, where, "must be a JSON object")
    return value


def _table(origin: str, where: str, value: Any) -> ResponseTable:
    entries = _object(origin, where, value)
    table: ResponseTable = []
    for key, response in entries.items():
        key_where = f"{where}.{key}"
        m = _KEY.match(str(key))
        if m is None:
            _fail(origin, key_where, 'is not an invocation number ("0") or range ("1-2")')
        first = int(m.group(1))
        last = int(m.group(2)) if m.group(2) is not None else first
        if last < first:
            _fail(origin, key_where, "is a range that ends before it starts")
        table.append([first, last, _response(origin, key_where, response)])
    table.sort(key=lambda entry: int(entry[0]))
    # Gaps are allowed (an invocation in one fails when it happens); overlaps
    # would make the answer depend on the order of the keys.
    covered = 0
    for first, last, _ in table:
        label = f"{where}.{first}" if first == last else f"{where}.{first}-{last}"
        if first < covered:
            _fail(origin, label, f"overlaps the invocations before it (up to {covered - 1})")
        covered = last + 1
    return table


def _response(origin: str, where: str, value: Any) -> dict[str, Any]:
    response = _object(origin, where, value)
    if set(response) not in ({"Return"}, {"Throw"}):
        _fail(origin, where, "must hold exactly one of Return or Throw")
    if "Throw" in response:
        thrown = _object(origin, f"{where}.Throw", response["Throw"])
        error, cause = thrown.get("Error"), thrown.get("Cause")
        if not isinstance(error, str) or not error:
            _fail(origin, f"{where}.Throw", "needs an Error (a string)")
        if cause is not None and not isinstance(cause, str):
            _fail(origin, f"{where}.Throw", "has a Cause that is not a string")
        return {"Throw": {"Error": error, **({"Cause": cause} if cause is not None else {})}}
    return {"Return": response["Return"]}
