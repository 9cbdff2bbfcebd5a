"""Bytecode for the sources a measurement runs, written before it starts.

An installed package comes with its modules compiled; a checkout installed in
editable mode gets them written as it is imported, unless the environment
says not to (``PYTHONDONTWRITEBYTECODE``), in which case every fresh process
compiles each module again, and start-up figures (W4, W5, the first run of
W6, a cluster worker's CPU) measure the compiler. Compiling first makes them
measure what a user's process does.
"""

from __future__ import annotations

import compileall
from pathlib import Path

import cadenza


def compile_sources(*trees: str | Path) -> None:
    """Write current bytecode for the installed ``cadenza`` package and for each
    source tree given (a directory on ``PYTHONPATH``, such as ``--tree``'s)."""
    folders = [Path(cadenza.__file__).parent, *(Path(tree) for tree in trees)]
    for folder in folders:
        compileall.compile_dir(str(folder), quiet=1)
