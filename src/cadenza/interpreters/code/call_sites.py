"""Where in a workflow's code a call was made (``file:line``), for the
nondeterminism report: the innermost frame outside this package."""

from __future__ import annotations

import os
import sys

#: This package's folder: frames of its files are the runtime's, not the workflow's.
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep

#: Absolute code file name -> whether it lies in this package. Every task
#: issued asks this of each frame up to the workflow's; the answer never
#: changes, and ``abspath`` per frame was most of what issuing a task cost.
_INSIDE_PACKAGE: dict[str, bool] = {}


def workflow_call_site() -> str:
    """``file:line`` of the innermost workflow-code frame (outside this package)."""
    frame = sys._getframe(1)
    inside = _INSIDE_PACKAGE
    while frame is not None:
        filename = frame.f_code.co_filename
        found = inside.get(filename)
        if found is None:
            absolute = os.path.abspath(filename)
            found = absolute.startswith(_PACKAGE_DIR)
            if absolute == filename:
                # A relative name's place depends on the working directory: not kept.
                inside[filename] = found
        if not found:
            return f"{filename}:{frame.f_lineno}"
        frame = frame.f_back  # type: ignore[assignment]
    return "?"
