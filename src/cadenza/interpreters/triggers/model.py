"""A trigger workspace as data: triggers, their activation events, and event sources.

A **trigger** is Triggerflow's 4-tuple (activation events, context, condition,
action) with an id and a ``transient`` flag; a **workspace** holds triggers
(ids unique), a global context and the event sources that feed it. This
module reads a workspace from a YAML/JSON document or builds one in Python,
and checks it, listing every problem with its path::

    workspace: orders
    global_context: {region: eu}
    sources:
      - {kind: redis, stream: orders}
    triggers:
      - id: all-paid
        activation: [{subject: payment, type: paid}]
        condition: JOIN
        context: {join: 3}
        action: TERMINATE
        timeout: 600

Conditions and actions are named: a built-in (``TRUE``, ``JOIN``, ...), a
name the front end was given a Python callable for, or ``module:function``
(imported when the definition is compiled). Code is never stored, only names.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cadenza.model.errors import DefinitionError, Problem
from cadenza.model.events import JSON

#: Event types of the built-ins (Triggerflow's names).
INIT_TYPE = "event.triggerflow.init"
SUCCESS_TYPE = "event.triggerflow.termination.success"
FAILURE_TYPE = "event.triggerflow.termination.failure"
TIMEOUT_TYPE = "event.triggerflow.timeout"
#: The subject of the event that starts a workspace (and a compiled DAG).
INIT_SUBJECT = "__init__"

#: Kinds of event source a workspace may declare, and the keys each requires.
SOURCE_KINDS: Mapping[str, tuple[str, ...]] = {
    "redis": ("stream",),
    "nats": ("stream", "subject"),
}
_SOURCE_KEYS = frozenset(
    {
        "name",
        "kind",
        "url",
        "stream",
        "subject",
        "group",
        "consumer",
        "durable",
        "batch",
        "claim_idle",
        "ack_wait",
        "max_batch",
    }
)
_TRIGGER_KEYS = frozenset(
    {"id", "activation", "condition", "action", "context", "transient", "timeout"}
)
_TOP_KEYS = frozenset(
    {"workspace", "description", "global_context", "sources", "triggers", "dedup"}
)
_DEDUP_KEYS = frozenset({"keys", "max_age"})
#: How many ``(source, id)`` keys a workspace remembers unless its ``dedup`` says.
DEFAULT_DEDUP_KEYS = 100_000


@dataclass(frozen=True)
class Trigger:
    """One event-condition-action rule.

    ``activation`` lists ``(subject, type)`` pairs; an event whose subject and
    type equal one of them is offered to the trigger. A transient trigger is
    disabled after it fires once; a persistent one keeps firing. ``timeout``
    (seconds after the trigger is added) delivers an
    ``event.triggerflow.timeout`` event with the trigger id as its subject if
    the trigger has not fired by then.
    """

    id: str
    activation: tuple[tuple[str, str], ...]
    condition: str = "TRUE"
    action: str = "PASS"
    context: Mapping[str, JSON] = field(default_factory=dict)
    transient: bool = True
    timeout: float | None = None

    def to_document(self) -> dict[str, JSON]:
        """The trigger as it is written in a workspace document."""
        out: dict[str, JSON] = {
            "id": self.id,
            "activation": [{"subject": s, "type": t} for s, t in self.activation],
            "condition": self.condition,
            "action": self.action,
            "context": json.loads(json.dumps(dict(self.context))),
            "transient": self.transient,
        }
        if self.timeout is not None:
            out["timeout"] = self.timeout
        return out


@dataclass(frozen=True)
class DedupWindow:
    """Which CloudEvents ``(source, id)`` keys a workspace remembers to drop
    redeliveries: the last ``keys`` consumed, and of those only the ones
    consumed less than ``max_age`` seconds ago (None: no age limit).

    An event redelivered after its key left the window counts again: choose
    a window wider than what a broker can redeliver (batches in flight, the
    pending entries of a killed worker, a consumer's ``ack_wait``).
    """

    keys: int = DEFAULT_DEDUP_KEYS
    max_age: float | None = None

    def to_document(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {"keys": self.keys}
        if self.max_age is not None:
            out["max_age"] = self.max_age
        return out


@dataclass(frozen=True)
class Workspace:
    """A checked workspace definition (see the module docstring)."""

    name: str
    triggers: tuple[Trigger, ...]
    global_context: Mapping[str, JSON] = field(default_factory=dict)
    sources: tuple[Mapping[str, JSON], ...] = ()
    description: str = ""
    dedup: DedupWindow = field(default_factory=DedupWindow)

    def to_document(self) -> dict[str, JSON]:
        """The workspace as a JSON/YAML document (what ``read_document`` reads)."""
        out: dict[str, JSON] = {"workspace": self.name}
        if self.description:
            out["description"] = self.description
        if self.global_context:
            out["global_context"] = json.loads(json.dumps(dict(self.global_context)))
        if self.dedup != DedupWindow():
            out["dedup"] = self.dedup.to_document()
        if self.sources:
            out["sources"] = [dict(s) for s in self.sources]
        out["triggers"] = [t.to_document() for t in self.triggers]
        return out

    def to_source(self) -> str:
        """The workspace as definition text to register with an engine (JSON,
        which is YAML too)."""
        return json.dumps(self.to_document(), indent=2, sort_keys=False)


def read_document(
    document: Any,
    known: Iterable[str],
    where: str = "",
    load: Callable[[str], str | None] | None = None,
) -> tuple[Workspace, list[Problem]]:
    """The workspace of ``document`` and every problem found in it.

    ``known`` holds the condition and action names that resolve (built-ins and
    registered ones); ``load`` loads a ``module:function`` name and says what
    is wrong with it (None: nothing).
    """
    problems: list[Problem] = []
    names = set(known)
    if not isinstance(document, Mapping):
        problems.append(Problem(where, "a workspace is a mapping with a triggers list"))
        return Workspace("", ()), problems
    for key in sorted(set(document) - _TOP_KEYS):
        known_keys = ", ".join(sorted(_TOP_KEYS))
        problems.append(Problem(_at(where, key), f"unknown key (known: {known_keys})"))
    name = document.get("workspace", "workspace")
    if not isinstance(name, str) or not name.strip():
        problems.append(Problem(_at(where, "workspace"), "the workspace name must be text"))
        name = "workspace"
    description = document.get("description", "")
    if not isinstance(description, str):
        problems.append(Problem(_at(where, "description"), "the description must be text"))
        description = ""
    global_context = document.get("global_context", {})
    if not isinstance(global_context, Mapping) or not _is_json(global_context):
        problems.append(
            Problem(_at(where, "global_context"), "the global context must be a JSON object")
        )
        global_context = {}
    sources = read_sources(document.get("sources", []), _at(where, "sources"), problems)
    dedup = read_dedup(document.get("dedup", {}), _at(where, "dedup"), problems)
    raw = document.get("triggers")
    if not isinstance(raw, list):
        problems.append(Problem(_at(where, "triggers"), "a workspace needs a list of triggers"))
        raw = []
    triggers: list[Trigger] = []
    seen: dict[str, str] = {}
    for i, item in enumerate(raw):
        path = f"{_at(where, 'triggers')}[{i}]"
        trigger = read_trigger(item, names, path, problems, f"trigger-{i}", load)
        if trigger is None:
            continue
        if trigger.id in seen:
            problems.append(
                Problem(
                    f"{path}.id", f"the id {trigger.id!r} is already used by {seen[trigger.id]}"
                )
            )
            continue
        seen[trigger.id] = path
        triggers.append(trigger)
    workspace = Workspace(name, tuple(triggers), dict(global_context), sources, description, dedup)
    return workspace, problems


def read_dedup(raw: Any, path: str, problems: list[Problem]) -> DedupWindow:
    """The ``dedup`` window of a document (the default, with problems added, if
    it is unusable)."""
    if not isinstance(raw, Mapping):
        problems.append(Problem(path, "dedup is a mapping with keys and/or max_age"))
        return DedupWindow()
    before = len(problems)
    for key in sorted(set(raw) - _DEDUP_KEYS):
        problems.append(Problem(f"{path}.{key}", "unknown key (known: keys, max_age)"))
    keys = raw.get("keys", DEFAULT_DEDUP_KEYS)
    if isinstance(keys, bool) or not isinstance(keys, int) or keys < 1:
        problems.append(Problem(f"{path}.keys", "keys must be a whole number of at least 1"))
    max_age = raw.get("max_age")
    if max_age is not None and (
        isinstance(max_age, bool) or not isinstance(max_age, int | float) or max_age <= 0
    ):
        problems.append(Problem(f"{path}.max_age", "max_age must be a positive number of seconds"))
    if len(problems) > before:
        return DedupWindow()
    return DedupWindow(keys, None if max_age is None else float(max_age))


def read_trigger(
    item: Any,
    names: set[str],
    path: str,
    problems: list[Problem],
    default_id: str,
    load: Callable[[str], str | None] | None = None,
) -> Trigger | None:
    """One trigger of a document (None, with problems added, if it is unusable)."""
    if not isinstance(item, Mapping):
        problems.append(Problem(path, "a trigger is a mapping with activation, condition, action"))
        return None
    before = len(problems)
    for key in sorted(set(item) - _TRIGGER_KEYS):
        known_keys = ", ".join(sorted(_TRIGGER_KEYS))
        problems.append(Problem(f"{path}.{key}", f"unknown key (known: {known_keys})"))
    trigger_id = item.get("id", default_id)
    if not isinstance(trigger_id, str) or not trigger_id.strip():
        problems.append(Problem(f"{path}.id", "the id must be non-empty text"))
    activation = _read_activation(item.get("activation"), f"{path}.activation", problems)
    functions = {}
    for key, default in (("condition", "TRUE"), ("action", "PASS")):
        value = item.get(key, default)
        if not isinstance(value, str) or not value.strip():
            problems.append(Problem(f"{path}.{key}", f"the {key} must be a name"))
        elif value not in names and ":" in value:
            wrong = "cannot be loaded here" if load is None else load(value)
            if wrong is not None:
                problems.append(Problem(f"{path}.{key}", f"{value}: {wrong}"))
        elif value not in names:
            problems.append(
                Problem(
                    f"{path}.{key}",
                    f"unknown {key} {value!r}: not a built-in, not registered with the "
                    "front end, and not a module:function reference",
                )
            )
        functions[key] = value
    context = item.get("context", {})
    if not isinstance(context, Mapping) or not _is_json(context):
        problems.append(Problem(f"{path}.context", "the context must be a JSON object"))
        context = {}
    transient = item.get("transient", True)
    if not isinstance(transient, bool):
        problems.append(Problem(f"{path}.transient", "transient must be true or false"))
    timeout = item.get("timeout")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
    ):
        problems.append(Problem(f"{path}.timeout", "the timeout must be a positive number"))
    if len(problems) > before:
        return None
    return Trigger(
        id=trigger_id,
        activation=activation,
        condition=functions["condition"],
        action=functions["action"],
        context=json.loads(json.dumps(dict(context))),
        transient=transient,
        timeout=None if timeout is None else float(timeout),
    )


def _read_activation(raw: Any, path: str, problems: list[Problem]) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, list) or not raw:
        problems.append(
            Problem(path, "activation must be a non-empty list of {subject, type} pairs")
        )
        return ()
    pairs: list[tuple[str, str]] = []
    for i, entry in enumerate(raw):
        if isinstance(entry, Mapping):
            subject, type_ = entry.get("subject"), entry.get("type")
            extra = sorted(set(entry) - {"subject", "type"})
        elif isinstance(entry, list | tuple) and len(entry) == 2:
            subject, type_ = entry
            extra = []
        else:
            problems.append(Problem(f"{path}[{i}]", "an activation event is {subject, type}"))
            continue
        if extra:
            problems.append(Problem(f"{path}[{i}]", f"unknown keys {extra} (known: subject, type)"))
        if not isinstance(subject, str) or not subject or not isinstance(type_, str) or not type_:
            problems.append(
                Problem(f"{path}[{i}]", "both subject and type are required, as non-empty text")
            )
            continue
        pairs.append((subject, type_))
    return tuple(pairs)


def read_sources(raw: Any, path: str, problems: list[Problem]) -> tuple[Mapping[str, JSON], ...]:
    if not isinstance(raw, list):
        problems.append(Problem(path, "sources must be a list"))
        return ()
    out: list[Mapping[str, JSON]] = []
    names: set[str] = set()
    for i, entry in enumerate(raw):
        where = f"{path}[{i}]"
        if not isinstance(entry, Mapping):
            problems.append(Problem(where, "a source is a mapping with a kind"))
            continue
        kind = entry.get("kind")
        if kind not in SOURCE_KINDS:
            problems.append(
                Problem(f"{where}.kind", f"kind must be one of {', '.join(sorted(SOURCE_KINDS))}")
            )
            continue
        for key in sorted(set(entry) - _SOURCE_KEYS):
            problems.append(Problem(f"{where}.{key}", "unknown key of a source"))
        for key in SOURCE_KINDS[str(kind)]:
            if not isinstance(entry.get(key), str) or not entry.get(key):
                problems.append(Problem(f"{where}.{key}", f"a {kind} source needs {key} (text)"))
        for key in ("batch", "max_batch"):
            value = entry.get(key)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                problems.append(
                    Problem(f"{where}.{key}", f"{key} must be a whole number of at least 1")
                )
        for key in ("claim_idle", "ack_wait"):
            value = entry.get(key)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or value <= 0
            ):
                problems.append(
                    Problem(f"{where}.{key}", f"{key} must be a positive number of seconds")
                )
        name = entry.get("name", f"{kind}:{entry.get('stream')}")
        if name in names:
            problems.append(Problem(f"{where}.name", f"two sources are named {name!r}"))
        names.add(str(name))
        out.append({**entry, "name": name})
    return tuple(out)


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _at(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def raise_if(problems: Sequence[Problem], origin: str | None) -> None:
    """Raise one ``DefinitionError`` listing ``problems``, if there are any."""
    if problems:
        raise DefinitionError(problems=problems, source=origin)
