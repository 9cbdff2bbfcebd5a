"""``core.echo``: return a message as if a shell had echoed it."""

from __future__ import annotations

import json

from cadenza.model.events import JSON


def echo(message: JSON) -> dict[str, JSON]:
    """Return ``message`` as ``stdout``, in the result shape of ``core.local``.

    StackStorm implements ``core.echo`` as a shell ``echo``, so workflows
    written for it read ``result().stdout``; the result has every key a
    successful ``core.local`` run has. No shell is started here, so the
    message is returned exactly as given, never expanded by a shell. A
    message that is not a string is written as JSON.
    """
    text = message if isinstance(message, str) else json.dumps(message, sort_keys=True)
    return {
        "stdout": text,
        "stderr": "",
        "return_code": 0,
        "succeeded": True,
        "failed": False,
    }
