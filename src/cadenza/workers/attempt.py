"""Run one attempt of one activity and report how it ended, without raising.

:func:`run_activity` and :func:`run_activity_async` share every step except
the call itself: look the action up, bind the input, call, then turn the
return value or the exception into an :class:`ActivityOutcome`. Failures of
the activity are data, never exceptions; only interrupts that belong to the
caller (``KeyboardInterrupt``, ``SystemExit``, the caller's own
``asyncio.CancelledError``) pass through.

Both accept sync and async activities: the sync entry point runs a coroutine
to completion on a private event loop, and the async one moves a sync
activity to a thread so it never blocks the caller's loop.
"""

from __future__ import annotations

import functools
import json
import math
import traceback
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from cadenza.model.errors import ActionNotFound, ActivityError, InputError
from cadenza.model.events import JSON
from cadenza.workers.context import ActivityCancelledInterrupt, ActivityContext
from cadenza.workers.outcome import ActivityOutcome
from cadenza.workers.registry import Activity, ActivityRegistry

#: Error type of a result (or returned outcome) that cannot be recorded as JSON.
RESULT_NOT_JSON = "result.not_json"

#: Ints below this (in size) are written and read back unchanged by ``json``.
_EXACT_INT = 10**18

#: What most activities return: never awaitable, so the ``Awaitable`` check (an
#: ABC's, in Python, at every attempt) is skipped for these exact types.
_PLAIN_TYPES = frozenset({type(None), bool, int, float, str, list, dict})


def run_activity(
    registry: ActivityRegistry,
    action: str,
    input: JSON,
    context: ActivityContext,
) -> ActivityOutcome:
    """Run one attempt of ``action`` with ``input`` and return its outcome.

    ``input`` is a mapping of parameter names to JSON values (or None for no
    parameters). Blocks until the activity returns; may be called from any
    thread, including one that runs an event loop.
    """
    prepared = _prepare(registry, action, input, context)
    if isinstance(prepared, ActivityOutcome):
        return prepared
    _activity, call = prepared
    try:
        value = call()
        if type(value) not in _PLAIN_TYPES and isinstance(value, Awaitable):
            value = _wait(value)
    except ActivityCancelledInterrupt:
        return _canceled(action)
    except Exception as exc:
        return _failed(action, exc)
    return _settle(action, value)


async def run_activity_async(
    registry: ActivityRegistry,
    action: str,
    input: JSON,
    context: ActivityContext,
) -> ActivityOutcome:
    """The same as :func:`run_activity`, awaitable; sync activities run in a thread."""
    prepared = _prepare(registry, action, input, context)
    if isinstance(prepared, ActivityOutcome):
        return prepared
    activity, call = prepared
    import asyncio  # loaded already: this coroutine runs on an event loop

    try:
        value = call() if activity.is_async else await asyncio.to_thread(call)
        if isinstance(value, Awaitable):
            value = await value
    except ActivityCancelledInterrupt:
        return _canceled(action)
    except Exception as exc:
        return _failed(action, exc)
    return _settle(action, value)


def _prepare(
    registry: ActivityRegistry, action: str, input: JSON, context: ActivityContext
) -> tuple[Activity, Callable[[], Any]] | ActivityOutcome:
    """The activity and a no-argument call of it, or the outcome that stops the attempt."""
    try:
        activity = registry.get(action)
    except ActionNotFound as exc:
        # Retryable: during a rolling upgrade another worker may know the action.
        return ActivityOutcome.failed(exc.code, exc.message)
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}
    if activity.whole_input:
        args = (input,)
    elif input is None:
        pass
    elif isinstance(input, Mapping) and all(isinstance(k, str) for k in input):
        kwargs = dict(input)
    else:
        return _bad_input(
            action,
            f"the input must be a mapping of parameter names to values, not {type(input).__name__}",
        )
    if activity.context_param is not None:
        if activity.context_param in kwargs:
            return _bad_input(
                action,
                f"{activity.context_param!r} is reserved for the activity context "
                "and cannot be given as input",
            )
        kwargs[activity.context_param] = context
    why = activity.binding_error(len(args), tuple(kwargs))
    if why is not None:
        return _bad_input(action, why)
    return activity, functools.partial(activity.fn, *args, **kwargs)


def _bad_input(action: str, why: str) -> ActivityOutcome:
    # The same input fails the same way every time, so retrying cannot help.
    return ActivityOutcome.failed(
        InputError.code, f"invalid input for action {action!r}: {why}", non_retryable=True
    )


def _wait(awaitable: Awaitable[Any]) -> Any:
    """Run ``awaitable`` to completion from synchronous code.

    ``asyncio`` is imported here, not with the module: it takes tens of
    milliseconds to import, and only async activities need it.
    """
    import asyncio
    import concurrent.futures

    async def drive() -> Any:
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(drive())
    # This thread already runs a loop, which cannot be re-entered: drive the
    # coroutine on a fresh loop in a helper thread and block on it.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, drive()).result()


def _failed(action: str, exc: Exception) -> ActivityOutcome:
    if isinstance(exc, ActivityError):
        result, dropped = _to_json(exc.result)
        message = exc.message
        if dropped:
            message += f" (its details were dropped: {dropped})"
        return ActivityOutcome.failed(
            exc.type, message, result=result, non_retryable=exc.non_retryable
        )
    return ActivityOutcome.failed(
        type(exc).__name__,
        str(exc) or f"action {action!r} raised {type(exc).__name__}",
        traceback="".join(traceback.format_exception(exc)),
    )


def _canceled(action: str) -> ActivityOutcome:
    return ActivityOutcome.canceled(f"action {action!r} stopped because it was cancelled")


def _settle(action: str, value: Any) -> ActivityOutcome:
    """The outcome for a returned value: a JSON result, or the outcome the activity chose."""
    outcome = value if isinstance(value, ActivityOutcome) else ActivityOutcome.succeeded(value)
    result, problem = _to_json(outcome.result)
    if problem:
        return ActivityOutcome.failed(
            RESULT_NOT_JSON,
            f"action {action!r} returned a result that cannot be recorded: {problem}",
            non_retryable=True,
        )
    if result is outcome.result:
        return outcome
    return ActivityOutcome(outcome.status, result, outcome.error)


def _to_json(value: JSON) -> tuple[JSON, str | None]:
    """``value`` as it will read back from history, or None and the reason it cannot be.

    Round-tripping makes the recorded value and the returned one identical
    (tuples become lists, non-string keys become strings), so a live run and
    a replay see the same thing. NaN and infinities are refused because they
    are not JSON.
    """
    if value is None or isinstance(value, str | bool):
        return value, None
    kind = type(value)
    if (kind is int and -_EXACT_INT < value < _EXACT_INT) or (
        kind is float and math.isfinite(value)
    ):
        # Plain numbers read back as themselves: no text to make. (Huge ints
        # still take the trip, which refuses those too long to write.)
        return value, None
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        return None, str(exc)
    return json.loads(text), None
