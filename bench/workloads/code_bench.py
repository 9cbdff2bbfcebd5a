"""W1 and W6 on the code front end, in-process; prints one JSON object on stdout.

    python bench/workloads/code_bench.py --size 100 --store-url sqlite:///TMP/bench.db \
        [--face async|sync]

Same protocol as ``cadenza_bench.py``: a fresh store per run, setup outside
the timed window, the window from the start of the execution until its result
is known. ``per_step_ms`` is the wall time per activity; ``cpu_ms_per_step``
the process's CPU time (all threads) per activity, which depends much less on
how busy the machine is. W1 and W6 are the same shape (one run of ``--size``
sequential no-op activities); ``bench/run.py`` runs W1 at 100 steps and W6 at
10 to 10,000.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

# Run as a script: make ``workloads`` importable from bench/.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cadenza.engine.engine import Engine
from cadenza.model.definitions import CodeReference
from workloads import code_workflows

TARGETS = {"async": "workloads.code_workflows:chain", "sync": "workloads.code_workflows:Chain"}


def sequential(url: str, steps: int, face: str, again: bool = False) -> dict[str, Any]:
    """One run of ``steps`` chained no-op activities; with ``again`` (W6) a
    second one after it in the same process (``warm_per_step_ms``)."""
    engine = Engine(url)
    code_workflows.register(engine.registry)
    definition = engine.register(CodeReference(TARGETS[face], "1"), kind="code")
    # Set-up, as DBOS.launch() is: the engine's first round loads every
    # installed front end to learn the kinds it can decide (about 20 ms of
    # imports, once per process; W4 measures a process's start).
    engine.front_ends.usable()
    commits_before = int(getattr(engine.store, "commits", 0))
    cpu0, t0 = _cpu_seconds(), time.perf_counter()
    record = engine.run(definition, [steps])
    wall, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
    commits = int(getattr(engine.store, "commits", 0)) - commits_before
    if record.status != "succeeded" or record.output != steps:
        raise SystemExit(f"workload result is wrong: {record!r}")
    metrics: dict[str, Any] = {
        "wall_s": wall,
        "per_step_ms": wall / steps * 1000,
        "cpu_ms_per_step": cpu / steps * 1000,
        "commits_per_step": commits / steps,
    }
    if again:
        t0 = time.perf_counter()
        record = engine.run(definition, [steps])
        metrics["warm_per_step_ms"] = (time.perf_counter() - t0) / steps * 1000
        if record.status != "succeeded" or record.output != steps:
            raise SystemExit(f"workload result is wrong: {record!r}")
    engine.close()
    return metrics


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workload", default="W1", choices=["W1", "W6"])
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--store-url", required=True)
    parser.add_argument("--face", default="async", choices=sorted(TARGETS))
    args = parser.parse_args()
    metrics = sequential(args.store_url, args.size, args.face, again=args.workload == "W6")
    print(json.dumps({"metrics": metrics}))


if __name__ == "__main__":
    main()
