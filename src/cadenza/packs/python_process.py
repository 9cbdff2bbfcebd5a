"""One run of a pack's Python action, in a process of its own (as StackStorm runs them).

The worker starts ``python python_process.py REQUEST_FILE``; the request (JSON) names
the entry point, the pack config and the parameters, and where to write the outcome.
The action's own prints go to this process's standard output and error, which the
worker reports as ``stdout`` and ``stderr``; a timeout or a cancellation kills the
process. The outcome file holds::

    {"succeeded": bool, "value": <the result>, "error": {"type", "message", "traceback"}}

(``error`` only when the action could not run or raised). Kept to the standard library
and :mod:`cadenza.packs.stackstorm_action`, so that starting it is cheap.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import sys
import traceback
from pathlib import Path
from typing import Any

from cadenza.packs.stackstorm_action import base_action_classes, provide_st2common_module

#: Error type of an entry point that cannot be imported or has no single Action class.
IMPORT_FAILED = "action.import_failed"


class ActionLoadError(Exception):
    """The entry point cannot give an action class (the message says why)."""


def action_class(entry_point: Path, module_name: str) -> type:
    """Import ``entry_point`` and return its one subclass of ``Action``."""
    provide_st2common_module()
    # As StackStorm does, the action's own folder is importable, so that actions can
    # share code in a module beside them (``from lib import client``).
    sys.path.insert(0, str(entry_point.parent))
    spec = importlib.util.spec_from_file_location(module_name, entry_point)
    if spec is None or spec.loader is None:
        raise ActionLoadError(f"cannot load {entry_point} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ActionLoadError(
            f"importing {entry_point} failed: {type(exc).__name__}: {exc}"
        ) from exc
    bases = base_action_classes()
    found = [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if cls.__module__ == module_name and issubclass(cls, bases) and cls not in bases
    ]
    if len(found) != 1:
        what = "none" if not found else f"{len(found)} ({', '.join(c.__name__ for c in found)})"
        raise ActionLoadError(
            f"{entry_point} must define one subclass of Action; it defines {what}"
        )
    return found[0]


def run_action(request: dict[str, Any]) -> dict[str, Any]:
    """Run the action ``request`` names; return the outcome document."""
    try:
        cls = action_class(Path(request["entry_point"]), str(request["module_name"]))
    except ActionLoadError as exc:
        return {"succeeded": False, "value": None, "error": _error(IMPORT_FAILED, str(exc))}
    try:
        returned = cls(config=request.get("config") or {}).run(**request["parameters"])
    except Exception as exc:
        error = _error(type(exc).__name__, f"{type(exc).__name__}: {exc}")
        error["traceback"] = traceback.format_exc()
        print(error["traceback"], file=sys.stderr, end="")
        return {"succeeded": False, "value": None, "error": error}
    # StackStorm's convention: a ``(bool, value)`` tuple gives the status.
    if isinstance(returned, tuple) and len(returned) == 2 and isinstance(returned[0], bool):
        return {"succeeded": returned[0], "value": _jsonable(returned[1])}
    return {"succeeded": True, "value": _jsonable(returned)}


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"type": kind, "message": message}


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


def main(argv: list[str]) -> int:
    """Run the request in the file ``argv[1]``; exit 0 if the action succeeded."""
    request = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    outcome = run_action(request)
    Path(request["outcome_file"]).write_text(json.dumps(outcome), encoding="utf-8")
    return 0 if outcome["succeeded"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
