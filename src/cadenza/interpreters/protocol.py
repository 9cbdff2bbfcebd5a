"""The seam between the engine and every front end.

A front end is found through the ``cadenza.front_ends`` entry-point group
(see ``cadenza.engine.front_ends``), so a separate package can add a language
without touching Cadenza. Everything the engine, CLI and API know about a
front end is declared here: how it recognises its definitions, whether input
must be an object, the actions a definition names, how operator requests
(reruns, answers to waiting tasks) are shaped, which history views it offers,
which statuses are final, and its snapshot policy.

A front end compiles a definition's source into an ``Interpreter``. An
interpreter is a pure fold: ``decide(state, events, now)`` folds a batch of
input events into ``state`` and returns the commands that follow. It does no
I/O, reads no clock (``now`` is the recorded time of the batch) and draws no
random numbers except from the seed recorded in ``ExecutionStarted``.

``decide`` may mutate ``state`` in place and must not raise for anything a
workflow can do: failures of expressions or actions are reported as
``CompleteExecution(status="failed", errors=[...])`` or front-end errors, not
as exceptions. Every collection in its output is in a deterministic order, so
the same events give the same commands, byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Protocol, runtime_checkable

from cadenza.model.commands import Command
from cadenza.model.definitions import DefinitionSource
from cadenza.model.errors import InputError, Problem
from cadenza.model.events import JSON, Event, RecordedEvent, RerunRequested, TaskCompleted


@dataclass
class TaskView:
    """One task occurrence as a person sees it."""

    name: str
    status: str
    key: str = ""  # front-end qualifier, e.g. an Orquesta route "0"
    result: JSON = None


@dataclass
class ExecutionView:
    """What an interpreter's state says about the execution."""

    status: str
    output: JSON = None
    errors: list[JSON] = field(default_factory=list)
    tasks: list[TaskView] = field(default_factory=list)


@dataclass(frozen=True)
class ActionUse:
    """An action a definition names literally, and where (for up-front checks)."""

    ref: str
    spec_path: str
    line: int | None = None
    #: Whether a missing handler makes the definition invalid (Orquesta), or only
    #: fails the step when it runs (Step Functions, as AWS does for a function).
    must_exist: bool = True


class Interpreter(Protocol):
    """One compiled definition's decision function.

    ``decide`` never raises for anything a workflow can do. If it raises all
    the same, that is a defect of the front end: the engine fails the
    execution with ``engine.interpreter_defect``, logs the traceback and
    records it in history.
    """

    kind: str

    def new_state(self) -> Any:
        """The state before any event."""

    def decide(self, state: Any, events: Sequence[Event], now: float) -> list[Command]:
        """Fold input ``events`` into ``state`` (in place) and return the commands."""

    def dump_state(self, state: Any) -> JSON:
        """The state as a JSON value (for snapshots)."""

    def load_state(self, data: JSON) -> Any:
        """The inverse of ``dump_state``."""

    def describe(self, state: Any) -> ExecutionView:
        """The execution as the CLI and API show it."""

    def actions(self) -> Sequence[ActionUse]:
        """The actions the definition names literally, for checks before it runs."""


class Recognition(IntEnum):
    """How sure a front end is that a source is written in its language."""

    #: Not this language.
    NO = 0
    #: Could be (YAML that is not obviously anything else); used when nobody is sure.
    POSSIBLY = 1
    #: Certainly this language (its characteristic keys, or its file suffix).
    YES = 2


@runtime_checkable
class DrawnInterpreter(Protocol):
    """An interpreter whose definition and state are drawn from what it compiled,
    not from its source text (trigger sets: a DAG or a state machine run on
    triggers is shown as the triggers it compiles to). Optional: the API's
    graph views use it when an interpreter offers it."""

    def document(self) -> JSON:
        """The compiled definition as data (what a console draws)."""

    def drawn_state(self, state: Any) -> JSON:
        """The parts of ``state`` (rebuilt from history) that a drawing shows."""


@dataclass(frozen=True)
class SnapshotPolicy:
    """When the engine saves an interpreter's state.

    A state is saved when the history recorded after the last saved state
    reaches ``share`` of the whole history and at least ``every`` events, so
    saving costs O(1) per event amortised while a cold decider replays at most
    that share. ``enabled=False`` never saves one: every cold decision replays
    the whole history (for front ends whose state cannot be written down,
    such as running Python code).
    """

    enabled: bool = True
    every: int = 64
    share: float = 0.25


@dataclass(frozen=True)
class RerunRequest:
    """An operator's request to run a finished execution again.

    ``steps`` names where to start (empty: from what failed); ``options`` are
    the front end's own switches (it refuses those it does not know).
    """

    steps: tuple[str, ...] = ()
    options: Mapping[str, JSON] = field(default_factory=dict)


@dataclass(frozen=True)
class PendingTask:
    """A task waiting for an answer from a person or another system."""

    execution_id: str
    task_id: str
    name: str
    input: JSON
    attempt: int
    meta: Mapping[str, JSON] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskAnswer:
    """What an operator answered a pending task: a result, or a failure."""

    result: JSON = None
    failed: bool = False


@dataclass(frozen=True)
class FrontEndSettings:
    """Settings every front end's factory receives; each applies what it knows."""

    #: Apply the payload and size limits of the service the language comes
    #: from (Step Functions' 256 KiB, for example), for definitions that must
    #: behave exactly as they would there.
    service_limits: bool = False
    #: The key that decrypts encrypted datastore values (``st2kv(key,
    #: decrypt=true)``); None when no key file is configured.
    secret_key: Decrypter | None = None


class Decrypter(Protocol):
    """Decrypts what Cadenza encrypted (``cadenza.encryption.SecretKey``)."""

    def decrypt(self, value: str) -> str:
        """The clear text of ``value``; a ``CadenzaError`` if it cannot be decrypted."""


@dataclass(frozen=True)
class DatastoreKeys:
    """The datastore entries an execution of a definition may read, as far as
    the definition tells (see ``datastore_keys_of``).

    ``system`` and ``user`` are key names read literally; ``whole`` names the
    scopes read with keys only known when the workflow runs (the engine records
    all of such a scope, up to a bound).
    """

    system: frozenset[str] = frozenset()
    user: frozenset[str] = frozenset()
    whole: frozenset[str] = frozenset()
    #: Whether the execution reads who it runs as (user scope, StackStorm's context).
    user_context: bool = False

    def __bool__(self) -> bool:
        return bool(self.system or self.user or self.whole or self.user_context)


#: A projection of an execution's history for people or other tools.
HistoryView = Callable[[Sequence[RecordedEvent]], JSON]


class FrontEnd(Protocol):
    """One workflow language: recognises, compiles and serves its definitions.

    Register a factory that takes a ``FrontEndSettings`` and returns an
    implementation under the ``cadenza.front_ends`` entry-point group, named
    by its kind.
    """

    kind: str
    #: File-name endings that mark this language (``".asl.json"``); may be empty.
    suffixes: tuple[str, ...]
    #: Whether an execution's input must be a JSON object (else any JSON value).
    input_must_be_object: bool
    #: Statuses after which nothing more happens to an execution.
    final_statuses: frozenset[str]
    #: Statuses in which an execution waits for an operator (resume, an answer).
    waiting_statuses: frozenset[str]
    snapshots: SnapshotPolicy

    def recognize(self, source: DefinitionSource) -> Recognition:
        """Whether ``source`` is written in this language (cheap, never raises)."""

    def compile(self, source: DefinitionSource, *, origin: str | None = None) -> Interpreter:
        """Parse and validate ``source``; raise ``DefinitionError`` listing every problem.

        ``origin`` names where the source came from (a file path) for messages.
        """

    def rerun_event(self, request: RerunRequest) -> RerunRequested:
        """The history event that asks this language's interpreter to rerun;
        ``InputError`` if the request makes no sense for it."""

    def answer(self, task: PendingTask, answer: TaskAnswer) -> TaskCompleted:
        """The completion an answer to ``task`` becomes; ``InputError`` (and the
        task keeps waiting) if the answer does not fit what the task asked for."""

    def history_views(self) -> Mapping[str, HistoryView]:
        """Named projections of a history (``cadenza history --view NAME``)."""


@dataclass(frozen=True)
class StartSettings:
    """How to start one execution: its start context and, when named, its id."""

    context: dict[str, JSON] = field(default_factory=dict)
    #: The id the front end gives a named execution; None lets the engine choose.
    execution_id: str | None = None


def warnings_of(front_end: FrontEnd, source: DefinitionSource) -> list[Problem]:
    """Likely mistakes in a valid definition, as the front end sees them.

    Optional for a front end: ``warnings(source) -> list[Problem]`` that never
    raises. ``cadenza validate`` and the API show them without failing.
    """
    hook = getattr(front_end, "warnings", None)
    return list(hook(source)) if hook is not None else []


def compile_registered(
    front_end: FrontEnd, source: DefinitionSource, *, origin: str | None = None
) -> Interpreter:
    """The interpreter of a definition read back from the store: one that
    ``front_end`` checked when it was registered.

    Optional for a front end: ``compile_checked(source, *, origin)``, which may
    leave out the checks ``compile`` makes (a worker that decides a stored
    definition need not validate it again at every start). One without it
    compiles again.
    """
    hook = getattr(front_end, "compile_checked", None)
    if hook is None:
        return front_end.compile(source, origin=origin)
    interpreter: Interpreter = hook(source, origin=origin)
    return interpreter


def start_settings_of(
    front_end: FrontEnd,
    options: Mapping[str, str],
    *,
    definition_name: str,
    source: DefinitionSource,
    origin: str | None = None,
) -> StartSettings:
    """What the front end makes of start options such as an execution's name.

    Optional for a front end: ``start_options`` (name -> help) and
    ``start_settings(options, *, definition_name, source, origin)``. One
    without them takes no options: ``InputError`` if any is given.
    """
    hook = getattr(front_end, "start_settings", None)
    if hook is None:
        if options:
            names = ", ".join("--" + k.replace("_", "-") for k in options)
            raise InputError(f"{front_end.kind} workflows take no {names}")
        return StartSettings()
    settings: StartSettings = hook(
        options, definition_name=definition_name, source=source, origin=origin
    )
    return settings


def datastore_keys_of(interpreter: Interpreter) -> DatastoreKeys:
    """The datastore entries an execution of this compiled definition may read.

    Optional for an interpreter: ``datastore_keys() -> DatastoreKeys``. The
    engine reads those entries when it starts an execution and records them in
    its ``ExecutionStarted.meta["datastore"]``, so the pure interpreter reads
    them from history and a replay sees the same values. Without it, nothing.
    """
    hook = getattr(interpreter, "datastore_keys", None)
    found = hook() if hook is not None else None
    return found if isinstance(found, DatastoreKeys) else DatastoreKeys()


def operator_requests_of(front_end: FrontEnd) -> Mapping[str, str]:
    """The operator requests a front end accepts (name -> what it does).

    Optional for a front end: one that declares no ``operator_requests``
    mapping accepts none. Requests arrive as ``OperatorRequested`` events.
    """
    found = getattr(front_end, "operator_requests", None)
    return found if isinstance(found, Mapping) else {}
