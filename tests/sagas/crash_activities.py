"""Activities for the saga crash tests, loaded by real ``cadenza`` processes with
``--activities crash_activities:register`` (this folder on ``PYTHONPATH``).

Each action creates a file named after its node in ``$SAGA_WORLD`` (doing it
twice leaves one file) and each undo deletes it; both append ``start``/``end``
lines to ``$SAGA_WORLD/marks`` so that the test counts every run. With
``$SAGA_CRASH_AT`` set to ``before:do:NODE`` (or ``after:do:``,
``before:undo:``, ``after:undo:``) the process SIGKILLs itself at that
boundary: before the side effect, or after it and before the result is
reported. A node whose path equals its ``fail`` input fails (not retried).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from cadenza.model.errors import ActivityError


def _world() -> Path:
    return Path(os.environ["SAGA_WORLD"])


def _mark(line: str) -> None:
    with (_world() / "marks").open("a") as marks:
        marks.write(line + "\n")
        marks.flush()
        os.fsync(marks.fileno())


def _boundary(when: str, side: str, path: str) -> None:
    if os.environ.get("SAGA_CRASH_AT") == f"{when}:{side}:{path}":
        os.kill(os.getpid(), signal.SIGKILL)


def _resource(path: str) -> Path:
    return _world() / path.replace("/", "__")


def do(node: str, path: str, fail: str = "", **inputs: Any) -> dict[str, Any]:
    """Create the node's resource."""
    _mark(f"start do {path}")
    if path == fail:
        raise ActivityError(f"{path} fails", type="test.failure", non_retryable=True)
    _boundary("before", "do", path)
    _resource(path).write_text(node)
    _boundary("after", "do", path)
    _mark(f"end do {path}")
    return {"id": f"{node}-id"}


def undo(input: dict[str, Any], output: dict[str, Any]) -> None:
    """Delete the node's resource."""
    path = input["path"]
    _mark(f"start undo {path}")
    _boundary("before", "undo", path)
    _resource(path).unlink(missing_ok=True)
    _boundary("after", "undo", path)
    _mark(f"end undo {path}")


def register(registry: Any) -> None:
    registry.register("crash.do", do)
    registry.register("crash.undo", undo)
