"""``core.noop``: an action that does nothing and succeeds."""

from __future__ import annotations

from cadenza.model.events import JSON


def noop() -> dict[str, JSON]:
    """Do nothing and succeed, with StackStorm's result for ``core.noop``.

    The result is ``{"failed": false, "succeeded": true, "return_code": 0}``.

    Workflows written for StackStorm test ``result().succeeded`` or
    ``result().return_code`` after a ``core.noop`` task, so the result has
    the keys of a successful command without its output.
    """
    return {"failed": False, "succeeded": True, "return_code": 0}
