"""``core.noop``: an action that does nothing and succeeds."""

from __future__ import annotations


def noop() -> None:
    """Do nothing; the result is ``None``.

    StackStorm's ``core.noop`` returns ``{"failed": false, "succeeded": true,
    "return_code": 0}``; Cadenza's returns nothing because there is no
    command whose exit code could be reported.
    """
    return None
