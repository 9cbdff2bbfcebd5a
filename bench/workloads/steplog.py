"""W5's step log: one line per step start and end, shared by every system.

Stdlib only, so the peers' scripts (in their own virtual environments) use
the very same code as Cadenza's activities. The harness reads the file to
kill the process at a known point and to count re-executed steps.
"""

from __future__ import annotations

import os
import time

#: Environment variable naming the log file; unset means "don't log".
ENV = "BENCH_STEP_LOG"


def log(what: str, index: int) -> None:
    path = os.environ.get(ENV)
    if not path:
        return
    # One short O_APPEND write per line: whole lines even with two writers,
    # and it is in the page cache before a SIGKILL can lose it.
    line = f"{what} {index} {time.time():.6f} {os.getpid()}\n".encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def slow_step(index: int, ms: float) -> int:
    """The W5 step body: log the start, sleep ``ms``, log the end."""
    log("start", index)
    time.sleep(ms / 1000.0)
    log("end", index)
    return index
