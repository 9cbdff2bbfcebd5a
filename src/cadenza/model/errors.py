"""Every error Cadenza raises on purpose, in one tree.

::

    CadenzaError                       (code: "cadenza")
    ├── DefinitionError                (code: "definition.invalid")
    │   └── DefinitionLoadError        (code: "definition.unloadable")
    ├── InputError                     (code: "input.invalid")
    ├── ExpressionError                (code: "expression.failed")
    │   └── ExpressionBudgetExceeded   (code: "expression.budget_exceeded")
    ├── NotFoundError                  (code: "not_found")
    │   ├── ExecutionNotFound          (code: "execution.not_found")
    │   ├── DefinitionNotFound         (code: "definition.not_found")
    │   ├── ActionNotFound             (code: "action.not_found")
    │   └── DatastoreKeyNotFound       (code: "datastore.key_not_found")
    ├── OperationRefused               (code: "operation.refused")
    │   └── WorkflowIdTaken            (code: "operation.workflow_id_taken")
    ├── FrontEndError                  (code: "front_end.failed")
    │   ├── FrontEndNotFound           (code: "front_end.not_found")
    │   └── KindUnclear                (code: "front_end.kind_unclear")
    ├── EngineError                    (code: "engine.failed")
    │   ├── InterpreterDefect          (code: "engine.interpreter_defect")
    │   ├── RunawayDecision            (code: "engine.runaway_decision")
    │   ├── ClockCannotJump            (code: "engine.clock_cannot_jump")
    │   └── StillBusy                  (code: "engine.still_busy")
    ├── StoreError                     (code: "store.failed")
    │   ├── LeaseLost                  (code: "store.lease_lost")
    │   ├── StoreUnavailable           (code: "store.unavailable")
    │   ├── SchemaMismatch             (code: "store.schema_mismatch")
    │   └── StoreFault                 (code: "store.fault")
    │       ├── StoreReadOnly          (code: "store.read_only")
    │       ├── StoreFull              (code: "store.full")
    │       └── StoreDamaged           (code: "store.damaged")
    ├── HistoryCorrupt                 (code: "history.corrupt")
    ├── ActivityError                  (code: "activity.failed")
    ├── RegistryError                  (code: "registry.invalid")
    ├── Unauthorized                   (code: "api.unauthorized")
    ├── SecretError                    (code: "secret.failed")
    │   ├── EncryptionKeyError         (code: "secret.key_invalid")
    │   └── Undecryptable              (code: "secret.undecryptable")
    ├── PayloadTooLarge                (code: "payload.too_large")
    └── ReplayMismatch                 (code: "testing.replay_mismatch")

Codes are stable strings: the CLI and the API print them, and users match on
them. A code is never renamed or reused for another meaning.

Each class's docstring is its default message. Errors keep their structured
fields as attributes and stay picklable, so they can cross process borders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class CadenzaError(Exception):
    """Cadenza failed."""

    code: str = "cadenza"

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or (type(self).__doc__ or "").strip()
        self.details = details
        super().__init__(self.message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.details))

    def to_dict(self) -> dict[str, Any]:
        """The error as the API and `--json` output show it."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            out["details"] = self.details
        return out


def _rebuild(cls: type[CadenzaError], message: str, details: dict[str, Any]) -> CadenzaError:
    err = cls.__new__(cls)
    CadenzaError.__init__(err, message, **details)
    return err


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a definition, located by its path in the document."""

    spec_path: str
    message: str
    category: str = "syntax"
    schema_path: str = ""
    line: int | None = None
    expression: str | None = None
    #: The file the problem is in, when it is not the definition checked itself
    #: (a pack workflow the definition calls).
    file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "category": self.category,
            "spec_path": self.spec_path,
            "message": self.message,
        }
        if self.schema_path:
            out["schema_path"] = self.schema_path
        if self.line is not None:
            out["line"] = self.line
        if self.expression is not None:
            out["expression"] = self.expression
        if self.file is not None:
            out["file"] = self.file
        return out

    def __str__(self) -> str:
        where = self.spec_path or "(document)"
        if self.line is not None:
            where += f" (line {self.line})"
        if self.file is not None:
            where = f"{self.file}: {where}"
        return f"{where}: {self.message}"


class DefinitionError(CadenzaError):
    """The workflow definition is invalid."""

    code = "definition.invalid"

    def __init__(
        self,
        message: str | None = None,
        problems: Sequence[Problem] = (),
        source: str | None = None,
    ) -> None:
        self.problems = sorted(problems)
        self.source = source
        if message is None:
            head = f"{source}: " if source else ""
            count = len(self.problems)
            message = f"{head}the definition has {count} problem{'s' if count != 1 else ''}"
            if self.problems:
                message += ":\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message, self.problems, self.source))

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["problems"] = [p.to_dict() for p in self.problems]
        return out


class DefinitionLoadError(DefinitionError):
    """The definition could not be read (not YAML/JSON, or not a mapping)."""

    code = "definition.unloadable"


class InputError(CadenzaError):
    """The execution input is invalid."""

    code = "input.invalid"


class ExpressionError(CadenzaError):
    """An expression could not be evaluated."""

    code = "expression.failed"


class ExpressionBudgetExceeded(ExpressionError):
    """An expression used more CPU time or made a bigger value than one evaluation may.

    ``expression`` is the expression's text and ``limit`` names the budget it
    went over (``cpu_seconds``, ``max_bytes``, ``max_items`` or ``max_depth``).
    """

    code = "expression.budget_exceeded"


class NotFoundError(CadenzaError):
    """The thing asked for does not exist."""

    code = "not_found"


class ExecutionNotFound(NotFoundError):
    """No execution has that id."""

    code = "execution.not_found"


class DefinitionNotFound(NotFoundError):
    """No definition has that id."""

    code = "definition.not_found"


class ActionNotFound(NotFoundError):
    """No action is registered under that name."""

    code = "action.not_found"


class OperationRefused(CadenzaError):
    """The execution is not in a state that allows this operation."""

    code = "operation.refused"


class FrontEndError(CadenzaError):
    """A front end could not be found, loaded or chosen."""

    code = "front_end.failed"


class FrontEndNotFound(FrontEndError):
    """No installed front end reads definitions of that kind."""

    code = "front_end.not_found"


class KindUnclear(FrontEndError):
    """No single front end recognises the definition; name its kind."""

    code = "front_end.kind_unclear"


class EngineError(CadenzaError):
    """The engine cannot go on as asked."""

    code = "engine.failed"


class InterpreterDefect(EngineError):
    """An interpreter raised instead of returning commands (a bug in the front end)."""

    code = "engine.interpreter_defect"


class RunawayDecision(EngineError):
    """Tasks that complete at once kept leading to each other inside one decision."""

    code = "engine.runaway_decision"


class ClockCannotJump(EngineError):
    """Skipping time needs a clock that can be set, such as ``FakeClock``."""

    code = "engine.clock_cannot_jump"


class StillBusy(EngineError):
    """The engine still had work after the most rounds it was allowed."""

    code = "engine.still_busy"


class StoreError(CadenzaError):
    """The store failed."""

    code = "store.failed"


class LeaseLost(StoreError):
    """The lease on this task or execution expired and was taken by another owner."""

    code = "store.lease_lost"


class StoreUnavailable(StoreError):
    """The store cannot be reached."""

    code = "store.unavailable"


class SchemaMismatch(StoreError):
    """The store's schema is newer than this version of Cadenza understands."""

    code = "store.schema_mismatch"


class StoreFault(StoreError):
    """The store cannot do this until something outside Cadenza is fixed.

    Unlike ``StoreUnavailable`` (a restart, a lock, a lost connection), trying
    again soon changes nothing, so loops stop instead of retrying. Nothing
    stored is lost: once the fault is fixed the same store works again.
    """

    code = "store.fault"


class StoreReadOnly(StoreFault):
    """The store can be read but not written (a read-only file, mount or replica)."""

    code = "store.read_only"


class StoreFull(StoreFault):
    """The store has no room left (the disk or the database's quota is full)."""

    code = "store.full"


class StoreDamaged(StoreFault):
    """The store is not what Cadenza wrote: not a database, or tables are missing."""

    code = "store.damaged"


class HistoryCorrupt(CadenzaError):
    """An execution's history breaks its own rules and cannot be replayed."""

    code = "history.corrupt"


class ActivityError(CadenzaError):
    """An activity failed.

    Raise it from an activity to fail with a chosen error ``type`` (matched by
    retry policies and by the front ends' error handling) and, with
    ``non_retryable=True``, to stop retries at once.
    """

    code = "activity.failed"

    def __init__(
        self,
        message: str | None = None,
        type: str = "ActivityError",
        non_retryable: bool = False,
        details: Any = None,
    ) -> None:
        self.type = type
        self.non_retryable = non_retryable
        self.result = details
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message, self.type, self.non_retryable, self.result))


class RegistryError(CadenzaError):
    """An activity could not be registered as asked."""

    code = "registry.invalid"


class Unauthorized(CadenzaError):
    """The request does not carry the API's bearer token."""

    code = "api.unauthorized"


class SecretError(CadenzaError):
    """A secret value could not be kept or read."""

    code = "secret.failed"


class EncryptionKeyError(SecretError):
    """The encryption key is missing or unreadable."""

    code = "secret.key_invalid"


class Undecryptable(SecretError):
    """An encrypted value cannot be decrypted with this key."""

    code = "secret.undecryptable"


class PayloadTooLarge(CadenzaError):
    """A value is larger than the store keeps.

    Not retryable: the same value is as large the next time. ``details`` name
    where the value was (``where``), its size and the limit, in bytes.
    """

    code = "payload.too_large"


class ReplayMismatch(CadenzaError):
    """Replaying a workflow's history through its code did not give the recorded decisions.

    Raised by ``cadenza.testing`` when a decision re-run cold from history
    issues other commands than the live run recorded (the workflow code is
    nondeterministic), or when the live run itself stopped as
    ``nondeterministic``. The message is the readable diff; ``details`` hold
    ``execution_id`` and ``decision`` of the first difference.
    """

    code = "testing.replay_mismatch"


class DatastoreKeyNotFound(NotFoundError):
    """No datastore (``st2kv``) entry has this key in this scope."""

    code = "datastore.key_not_found"


class WorkflowIdTaken(OperationRefused):
    """Another open run has this workflow id: one open run per workflow id.

    ``details`` hold ``workflow_id`` and, when it could be read, the open
    run's ``execution_id`` and ``status``.
    """

    code = "operation.workflow_id_taken"

    @classmethod
    def of(cls, workflow_id: str, execution_id: str | None, status: str | None) -> WorkflowIdTaken:
        """The refusal naming the open run ``execution_id`` (None if it just ended)."""
        holder = f"the open run {execution_id} ({status})" if execution_id else "an open run"
        return cls(
            f"workflow id {workflow_id!r} is taken by {holder}: one open run per workflow id",
            workflow_id=workflow_id,
            execution_id=execution_id,
            status=status,
        )
