"""Compiling a state machine (an Amazon States Language subset) onto triggers.

A definition::

    statemachine:
      StartAt: Check
      States:
        Check:  {Type: Task, Resource: demo.check, Next: Route}
        Route:
          Type: Choice
          Choices:
            - {Variable: $.ok, BooleanEquals: true, Next: Ship}
          Default: Refuse
        Ship:   {Type: Task, Resource: demo.ship, End: true}
        Refuse: {Type: Fail, Error: Refused, Cause: the check failed}

With ``start_on: {subject, type}`` beside ``statemachine:``, the machine
starts on that event (from the workspace's ``sources``) instead of at once;
``dedup: {keys, max_age}`` there bounds the deduplication window, as for a
workspace.

As in Triggerflow's state machines, a state's data flows in termination
events (``event.triggerflow.termination.success``) whose subject is the
state that produced it:

* ``Task`` is one persistent trigger, activated by its predecessors'
  events, running ``Resource`` (an activity) with the data that arrived;
* ``Pass`` (and ``Succeed``) reports its ``Result`` (or its input) at once
  (``ASL_PASS``);
* ``Choice`` has no trigger of its own: each branch (each rule, and
  ``Default``) is a trigger on the Choice's predecessors whose condition is
  that rule (``ASL_CHOICE``: the first rule that holds wins) and which
  passes the data on under the subject ``<choice>#<branch>``; the target
  state is activated by that subject;
* ``Fail`` ends the workspace as failed with its ``Error`` and ``Cause``;
* ``Parallel``: each branch is compiled as a machine of its own (subjects
  prefixed ``<parallel>/<index>/``) started by the Parallel's predecessors;
  a join trigger (``ASL_JOIN``) on the branches' ends reports the list of
  their outputs, in branch order, under the Parallel's name;
* ``Map``: a trigger (``ASL_MAP``) starts one run of the iterator (compiled
  with the prefix ``<map>/``) per item at ``ItemsPath``, each event marked
  with its item index (the ``cadenzaiteration`` extension, which every
  action passes on); the join collects the outputs by index. Runs of one
  Map in different iterations of an enclosing Map are kept apart by their
  indexes, so Maps and Parallels nest;
* a state with ``End: true`` (and ``Succeed``) activates ``__end__``, which
  ends the workspace with that state's output; a failed task fails it.

Triggers are persistent, so a Choice may loop back to an earlier state.
``Wait``, and the paths and parameters of the full language (``InputPath``,
``Parameters``, ``ResultPath``, ``OutputPath``, ``Retry``, ``Catch``...), are
not compiled here: run such machines with the ``states`` front end, which a
trigger can start as a child (``START_WORKFLOW``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cadenza.interpreters.triggers.choice import path_problem, rule_problems
from cadenza.interpreters.triggers.model import (
    FAILURE_TYPE,
    INIT_SUBJECT,
    INIT_TYPE,
    SUCCESS_TYPE,
    DedupWindow,
    Trigger,
    Workspace,
    read_dedup,
    read_sources,
)
from cadenza.model.errors import Problem

_COMPILED = ("Task", "Pass", "Choice", "Succeed", "Fail", "Parallel", "Map")
_STATE_KEYS: Mapping[str, frozenset[str]] = {
    "Task": frozenset({"Type", "Resource", "Next", "End", "Comment"}),
    "Pass": frozenset({"Type", "Result", "Next", "End", "Comment"}),
    "Choice": frozenset({"Type", "Choices", "Default", "Comment"}),
    "Succeed": frozenset({"Type", "Comment"}),
    "Fail": frozenset({"Type", "Error", "Cause", "Comment"}),
    "Parallel": frozenset({"Type", "Branches", "Next", "End", "Comment"}),
    "Map": frozenset({"Type", "Iterator", "ItemProcessor", "ItemsPath", "Next", "End", "Comment"}),
}
#: States that pass their output on to ``Next`` (or end the machine).
_FLOWING = ("Task", "Pass", "Parallel", "Map")


def read_statemachine(document: Mapping[str, Any]) -> tuple[Workspace, list[Problem]]:
    """The workspace a ``statemachine:`` document compiles to, and every problem."""
    problems: list[Problem] = []
    known = {"statemachine", "sources", "global_context", "start_on", "dedup"}
    for key in sorted(set(document) - known):
        problems.append(Problem(key, f"unknown key (known: {', '.join(sorted(known))})"))
    begin = (INIT_SUBJECT, INIT_TYPE)
    start_on = document.get("start_on")
    if start_on is not None:
        if (
            not isinstance(start_on, Mapping)
            or not isinstance(start_on.get("subject"), str)
            or not isinstance(start_on.get("type"), str)
        ):
            problems.append(Problem("start_on", "start_on is {subject, type} of an event"))
        else:
            begin = (start_on["subject"], start_on["type"])
    machine = document.get("statemachine")
    if not isinstance(machine, Mapping):
        problems.append(Problem("statemachine", "statemachine is an ASL object (StartAt, States)"))
        return Workspace("", ()), problems
    _check_machine(machine, "statemachine", problems)
    sources = read_sources(document.get("sources", []), "sources", problems)
    dedup = read_dedup(document.get("dedup", {}), "dedup", problems)
    if problems:
        return Workspace("", ()), problems
    global_context = document.get("global_context") or {}
    return _compile(machine, begin, sources, global_context, dedup), []


def _check_machine(machine: Any, where: str, problems: list[Problem]) -> None:
    """Every problem of a (sub)machine: ``{StartAt, States}``."""
    if not isinstance(machine, Mapping):
        problems.append(Problem(where, "a state machine is an object with StartAt and States"))
        return
    states = machine.get("States")
    if not isinstance(states, Mapping) or not states:
        problems.append(Problem(f"{where}.States", "States must be a non-empty object"))
        return
    if machine.get("StartAt") not in states:
        problems.append(
            Problem(f"{where}.StartAt", f"StartAt names no state: {machine.get('StartAt')!r}")
        )
    for name, state in states.items():
        _check_state(str(name), state, states, f"{where}.States.{name}", problems)


def _check_state(
    name: str, state: Any, states: Mapping[str, Any], where: str, problems: list[Problem]
) -> None:
    if not isinstance(state, Mapping):
        problems.append(Problem(where, "a state is an object with a Type"))
        return
    kind = state.get("Type")
    if kind not in _COMPILED:
        problems.append(
            Problem(
                f"{where}.Type",
                f"{kind!r} states are not compiled onto triggers (only {', '.join(_COMPILED)}); "
                "run this state machine with the states front end",
            )
        )
        return
    for key in sorted(set(state) - _STATE_KEYS[kind]):
        problems.append(
            Problem(f"{where}.{key}", f"{key} is not compiled onto triggers for a {kind} state")
        )
    if kind == "Task" and (not isinstance(state.get("Resource"), str) or not state["Resource"]):
        problems.append(Problem(f"{where}.Resource", "a Task needs a Resource (an activity name)"))
    if kind in _FLOWING:
        if ("Next" in state) == bool(state.get("End")):
            problems.append(Problem(where, "a state has either Next or End: true"))
        elif "Next" in state and state["Next"] not in states:
            problems.append(Problem(f"{where}.Next", f"no state is named {state['Next']!r}"))
    if kind == "Choice":
        choices = state.get("Choices")
        if not isinstance(choices, list) or not choices:
            problems.append(Problem(f"{where}.Choices", "a Choice needs a list of rules"))
            choices = []
        for i, rule in enumerate(choices):
            at = f"{where}.Choices[{i}]"
            if isinstance(rule, Mapping) and rule.get("Next") not in states:
                problems.append(Problem(f"{at}.Next", f"no state is named {rule.get('Next')!r}"))
            checked = (
                {k: v for k, v in rule.items() if k != "Next"}
                if isinstance(rule, Mapping)
                else rule
            )
            problems.extend(Problem(path, message) for path, message in rule_problems(checked, at))
        if "Default" in state and state["Default"] not in states:
            problems.append(Problem(f"{where}.Default", f"no state is named {state['Default']!r}"))
    if kind == "Parallel":
        branches = state.get("Branches")
        if not isinstance(branches, list) or not branches:
            problems.append(Problem(f"{where}.Branches", "a Parallel needs a list of branches"))
            branches = []
        for i, branch in enumerate(branches):
            _check_machine(branch, f"{where}.Branches[{i}]", problems)
    if kind == "Map":
        key = "ItemProcessor" if "ItemProcessor" in state else "Iterator"
        _check_machine(state.get(key), f"{where}.{key}", problems)
        problem = path_problem(state.get("ItemsPath", "$"))
        if problem:
            problems.append(Problem(f"{where}.ItemsPath", problem))


def _compile(
    machine: Mapping[str, Any],
    begin: tuple[str, str],
    sources: tuple[Mapping[str, Any], ...],
    global_context: Mapping[str, Any],
    dedup: DedupWindow,
) -> Workspace:
    compiled = _Machine()
    ends = compiled.add("", machine, [begin])
    triggers = compiled.triggers
    if ends:
        ends_pairs = tuple((s, SUCCESS_TYPE) for s in ends)
        triggers.append(Trigger("__end__", ends_pairs, "TRUE", "TERMINATE", {}))
    if compiled.tasks:
        failures = tuple((name, FAILURE_TYPE) for name in compiled.tasks)
        triggers.append(Trigger("__failure__", failures, "TRUE", "FAIL", {}, False))
    return Workspace("statemachine", tuple(triggers), dict(global_context), sources, "", dedup)


class _Machine:
    """The triggers of a machine and of the branches and iterators inside it."""

    def __init__(self) -> None:
        self.triggers: list[Trigger] = []
        self.tasks: list[str] = []

    def add(
        self, prefix: str, machine: Mapping[str, Any], begin: list[tuple[str, str]]
    ) -> list[str]:
        """Add the triggers of ``machine``, its states' subjects prefixed with
        ``prefix``, started by ``begin`` events; return the subjects whose
        success events end it."""
        states: Mapping[str, Any] = machine["States"]
        start = machine["StartAt"]
        # Which subjects' success events activate each state (and each Choice).
        inbound: dict[str, list[str]] = {name: [] for name in states}
        ends: list[str] = []
        for name, state in states.items():
            kind = state["Type"]
            if kind == "Choice":
                for i, target in enumerate(_branches(state)):
                    if target is not None:
                        inbound[target].append(f"{prefix}{name}#{i}")
            elif kind in _FLOWING and "Next" in state:
                inbound[state["Next"]].append(prefix + name)
            elif kind in _FLOWING or kind == "Succeed":
                ends.append(prefix + name)

        def activation(name: str) -> tuple[tuple[str, str], ...]:
            pairs = [(subject, SUCCESS_TYPE) for subject in inbound[name]]
            return tuple(begin + pairs) if name == start else tuple(pairs)

        for name, state in states.items():
            if activation(name):  # else unreachable: nothing would ever activate it
                self._state(prefix + name, state, activation(name))
        return ends

    def _state(
        self, subject: str, state: Mapping[str, Any], on: tuple[tuple[str, str], ...]
    ) -> None:
        kind = state["Type"]
        add = self.triggers.append
        if kind == "Task":
            self.tasks.append(subject)
            context: dict[str, Any] = {"activity": state["Resource"], "subject": subject}
            add(Trigger(subject, on, "TRUE", "INVOKE", context, False))
        elif kind in ("Pass", "Succeed"):
            context = {"subject": subject}
            if "Result" in state:
                context["result"] = state["Result"]
            add(Trigger(subject, on, "TRUE", "ASL_PASS", context, False))
        elif kind == "Fail":
            context = {"error": state.get("Error"), "cause": state.get("Cause")}
            add(Trigger(subject, on, "TRUE", "FAIL", context, False))
        elif kind == "Choice":
            self._choice(subject, state, on)
        elif kind == "Parallel":
            branches: dict[str, int] = {}
            for b, branch in enumerate(state["Branches"]):
                for end in self.add(f"{subject}/{b}/", branch, list(on)):
                    branches[end] = b
            context = {"mode": "parallel", "branches": branches, "count": len(state["Branches"])}
            ends = tuple((end, SUCCESS_TYPE) for end in branches)
            add(Trigger(subject, ends, "ASL_JOIN", "ASL_JOIN_END", context, False))
        else:  # Map
            start = f"{subject}/item"
            iterator = state.get("ItemProcessor") or state["Iterator"]
            inner = self.add(f"{subject}/", iterator, [(start, SUCCESS_TYPE)])
            context = {
                "items_path": state.get("ItemsPath", "$"),
                "start": start,
                "join": subject,
                "subject": subject,
            }
            add(Trigger(f"{subject}/map", on, "TRUE", "ASL_MAP", context, False))
            ends = tuple((end, SUCCESS_TYPE) for end in inner)
            add(Trigger(subject, ends, "ASL_JOIN", "ASL_JOIN_END", {"mode": "map"}, False))

    def _choice(
        self, subject: str, state: Mapping[str, Any], on: tuple[tuple[str, str], ...]
    ) -> None:
        rules = [{k: v for k, v in r.items() if k != "Next"} for r in state["Choices"]]
        for i, target in enumerate(_branches(state)):
            branch = -1 if i == len(rules) else i
            context: dict[str, Any] = {
                "choices": rules,
                "branch": branch,
                "subject": f"{subject}#{i}",
            }
            if target is None:
                # No Default: data that no rule matches fails the run, as in AWS.
                context["error"] = "States.NoChoiceMatched"
                context["cause"] = f"no choice rule of {subject} matched"
                action = "FAIL"
            else:
                action = "ASL_PASS"
            self.triggers.append(
                Trigger(f"{subject}#{i}", on, "ASL_CHOICE", action, context, False)
            )


def _branches(state: Mapping[str, Any]) -> list[str | None]:
    """A Choice's targets: one per rule, then the Default (None if there is none)."""
    return [rule["Next"] for rule in state["Choices"]] + [state.get("Default")]
