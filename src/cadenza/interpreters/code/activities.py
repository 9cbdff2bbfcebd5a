"""Activities of code workflows: plain functions a workflow schedules by reference.

``@activity(...)`` wraps a function in an :class:`ActivityDefinition` that a
workflow passes to ``submit``. The function itself runs only in a worker: the
workflow never calls it, it only records that it wants it run (a
``ScheduleTask`` command). :func:`register_activities` puts activities into a
worker's registry under their action names.

An activity's input travels as ``{"args": [...], "kwargs": {...}}`` (the shape
simpleflow uses), so positional and keyword arguments both survive the trip
through history.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol, overload

from cadenza.model.errors import InputError
from cadenza.model.events import JSON
from cadenza.model.retry import RetryPolicy
from cadenza.model.secrets import mark_secrets, parse_path


@dataclass(frozen=True)
class ActivityDefinition:
    """A function declared as an activity, with how and where it runs.

    ``name`` is the action name workers know it by (default
    ``module.function``); ``task_list`` is the queue its tasks go to;
    ``retry`` is the engine's retry policy for its attempts (with backoff);
    the timeouts are seconds (None: no limit). ``idempotent`` activities get
    task ids from the hash of their arguments, so submitting the same call
    twice schedules it once. ``secret_result`` marks the result secret: all of
    it (True) or the values at the paths it lists (``"$.token"``, see
    ``cadenza.model.secrets.parse_path``); they are stored encrypted and
    masked in every view.
    """

    fn: Callable[..., Any]
    name: str
    version: str = "1"
    task_list: str = "default"
    retry: RetryPolicy | None = None
    start_to_close_timeout: float | None = None
    schedule_to_start_timeout: float | None = None
    schedule_to_close_timeout: float | None = None
    heartbeat_timeout: float | None = None
    idempotent: bool = False
    priority: int = 0
    #: Worked by outside workers (any language) that poll ``task_list`` through
    #: the engine's external task API, not by the engine's own workers.
    external: bool = False
    secret_result: bool | tuple[str, ...] = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function directly (in a worker or a unit test, never in a workflow)."""
        return self.fn(*args, **kwargs)

    def run_task(self, input: JSON) -> Any:
        """Run one task: ``input`` is ``{"args": [...], "kwargs": {...}}``."""
        args, kwargs = split_input(input, self.name)
        result = self.fn(*args, **kwargs)
        if self.secret_result is False:
            return result
        return mark_secrets(result, ["$"] if self.secret_result is True else self.secret_result)


@overload
def activity(fn: Callable[..., Any], /) -> ActivityDefinition: ...


@overload
def activity(
    *,
    name: str | None = None,
    version: str = "1",
    task_list: str = "default",
    retry: RetryPolicy | int | None = None,
    start_to_close_timeout: float | None = None,
    schedule_to_start_timeout: float | None = None,
    schedule_to_close_timeout: float | None = None,
    heartbeat_timeout: float | None = None,
    idempotent: bool = False,
    priority: int = 0,
    external: bool = False,
    secret_result: bool | Sequence[str] = False,
) -> Callable[[Callable[..., Any]], ActivityDefinition]: ...


def activity(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    version: str = "1",
    task_list: str = "default",
    retry: RetryPolicy | int | None = None,
    start_to_close_timeout: float | None = None,
    schedule_to_start_timeout: float | None = None,
    schedule_to_close_timeout: float | None = None,
    heartbeat_timeout: float | None = None,
    idempotent: bool = False,
    priority: int = 0,
    external: bool = False,
    secret_result: bool | Sequence[str] = False,
) -> ActivityDefinition | Callable[[Callable[..., Any]], ActivityDefinition]:
    """Declare a function as an activity (``@activity`` or ``@activity(task_list=...)``).

    ``retry`` is a :class:`RetryPolicy`, or an int meaning that many retries
    after the first attempt with the policy's default backoff (simpleflow's
    ``retry=N``, but not at once). With ``external=True`` the function body is
    only documentation: outside workers poll ``task_list`` for the tasks.
    ``secret_result=True`` (or a list of paths such as ``["$.token"]``) marks the
    result, or those parts of it, secret.
    """
    secret: bool | tuple[str, ...] = (
        secret_result
        if isinstance(secret_result, bool)
        else (secret_result,)
        if isinstance(secret_result, str)
        else tuple(secret_result)
    )
    for path in () if isinstance(secret, bool) else secret:
        parse_path(path)  # a mistyped path fails here, not at the first result
    policy = RetryPolicy(max_attempts=retry + 1) if isinstance(retry, int) else retry

    def declare(function: Callable[..., Any]) -> ActivityDefinition:
        declared = ActivityDefinition(
            fn=function,
            name=name or f"{function.__module__}.{function.__qualname__}",
            version=version,
            task_list=task_list,
            retry=policy,
            start_to_close_timeout=start_to_close_timeout,
            schedule_to_start_timeout=schedule_to_start_timeout,
            schedule_to_close_timeout=schedule_to_close_timeout,
            heartbeat_timeout=heartbeat_timeout,
            idempotent=idempotent,
            priority=priority,
            external=external,
            secret_result=secret,
        )
        return declared

    return declare(fn) if fn is not None else declare


def split_input(input: JSON, where: str) -> tuple[list[Any], dict[str, Any]]:
    """The positional and keyword arguments of a task input ``{"args", "kwargs"}``."""
    if not isinstance(input, dict):
        raise InputError(f"activity {where}: input must be {{'args': [...], 'kwargs': {{...}}}}")
    args = input.get("args") or []
    kwargs = input.get("kwargs") or {}
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise InputError(f"activity {where}: 'args' must be a list and 'kwargs' an object")
    return list(args), dict(kwargs)


class ActionRegistry(Protocol):
    """What :func:`register_activities` needs of a worker's registry."""

    def register(
        self, name: str, fn: Any, *, replace: bool = False, whole_input: bool = False
    ) -> Any: ...


def activities_in(module: ModuleType) -> list[ActivityDefinition]:
    """The activities a module defines at top level, by name."""
    found = [value for _, value in inspect.getmembers(module)]
    return sorted((v for v in found if isinstance(v, ActivityDefinition)), key=lambda a: a.name)


def register_activities(
    registry: ActionRegistry,
    *sources: ActivityDefinition | ModuleType | Iterable[ActivityDefinition],
    replace: bool = False,
) -> list[str]:
    """Register activities (given one by one, as lists, or as the modules that
    define them) so the registry's workers can run their tasks; return the names."""
    chosen: list[ActivityDefinition] = []
    for source in sources:
        if isinstance(source, ActivityDefinition):
            chosen.append(source)
        elif isinstance(source, ModuleType):
            chosen.extend(activities_in(source))
        else:
            chosen.extend(source)
    for declared in chosen:
        registry.register(declared.name, declared.run_task, replace=replace, whole_input=True)
    return [declared.name for declared in chosen]
