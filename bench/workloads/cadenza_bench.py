"""One in-process measurement of Cadenza; prints one JSON object on stdout.

    python bench/workloads/cadenza_bench.py --workload W1 --size 100 \
        --store-url sqlite:///TMP/bench.db

``bench/run.py`` runs this in a fresh subprocess per measurement, on a fresh
store (a new SQLite file or a new PostgreSQL database) each time. Setup
(opening the store, registering the definition) is outside the timed window;
the window is start of the first execution until the last result is known.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

# Run as a script: make ``workloads`` importable from bench/.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cadenza.engine.decider import DecisionOutcome
from cadenza.engine.engine import Engine
from cadenza.model.statuses import FINAL_EXECUTION_STATUSES
from workloads import actions, orquesta, pgstats


def _engine(url: str) -> Engine:
    engine = Engine(url)
    actions.register(engine.registry)
    # Set-up, as DBOS.launch() is (and as code_bench does): the first round loads
    # every installed front end to learn the kinds it can decide, once per process.
    engine.front_ends.usable()
    return engine


def _is_pg(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def sequential(url: str, steps: int, again: bool = False) -> dict[str, Any]:
    """W1 and W6: one run of ``steps`` chained no-op steps; with ``again`` (W6)
    a second run of the same length after it, in the same process
    (``warm_per_step_ms``)."""
    engine = _engine(url)
    definition = engine.register(orquesta.chain(steps), origin=f"chain{steps}.yaml")
    xact_before = _xact_before(engine, url)
    if xact_before is not None:
        engine = _engine(url)
        # The definition compiled as registering did it (nothing is written).
        engine.prepare(definition)
    commits_before = _commits(engine)
    t0 = time.perf_counter()
    record = engine.run(definition, {"v": 0})
    wall = time.perf_counter() - t0
    commits = _commits(engine) - commits_before
    _check(record.status == "succeeded" and record.output == {"v": steps}, record)
    warm: float | None = None
    if again:
        t0 = time.perf_counter()
        record = engine.run(definition, {"v": 0})
        warm = time.perf_counter() - t0
        _check(record.status == "succeeded" and record.output == {"v": steps}, record)
    engine.close()
    metrics: dict[str, Any] = {
        "wall_s": wall,
        "per_step_ms": wall / steps * 1000,
        "commits_per_step": commits / steps,
    }
    if warm is not None:
        metrics["warm_per_step_ms"] = warm / steps * 1000
    elif xact_before is not None:
        metrics["xact_per_step"] = (pgstats.settled_xact_commit(url) - xact_before) / steps
    return metrics


def fan_out(url: str, width: int) -> dict[str, Any]:
    """W2: ``width`` parallel no-ops, then one step summing their results."""
    engine = _engine(url)
    definition = engine.register(orquesta.fan_out(width), origin=f"fan{width}.yaml")
    t0 = time.perf_counter()
    record = engine.run(definition)
    wall = time.perf_counter() - t0
    _check(record.status == "succeeded" and record.output == {"total": sum(range(width))}, record)
    engine.close()
    return {"wall_s": wall, "per_step_ms": wall / (width + 1) * 1000}


def throughput(url: str, runs: int, steps: int = 3) -> dict[str, Any]:
    """W3: ``runs`` runs of ``steps`` chained no-ops, all started, then all awaited."""
    engine = _engine(url)
    definition = engine.register(orquesta.chain(steps), origin=f"chain{steps}.yaml")
    xact_before = _xact_before(engine, url)
    if xact_before is not None:
        engine = _engine(url)
        engine.prepare(definition)
    finished: set[str] = set()
    outcomes_lock = threading.Lock()

    # Completion is learnt from the engine's decision listener rather than by
    # polling the store, so the measurement adds no queries of its own.
    def on_decision(outcome: DecisionOutcome) -> None:
        if outcome.status in FINAL_EXECUTION_STATUSES:
            with outcomes_lock:
                finished.add(outcome.execution_id)

    engine.add_listener(on_decision)
    commits_before = _commits(engine)
    t0 = time.perf_counter()
    ids = [engine.start(definition, {"v": 0}) for _ in range(runs)]
    started = time.perf_counter() - t0
    engine.serve(threading.Event(), until=lambda: len(finished) >= runs)
    wall = time.perf_counter() - t0
    commits = _commits(engine) - commits_before
    bad = [i for i in ids if engine.get(i).status != "succeeded"]
    _check(not bad, f"{len(bad)} runs did not succeed")
    engine.close()
    metrics: dict[str, Any] = {
        "wall_s": wall,
        "start_all_s": started,
        "runs_per_s": runs / wall,
        "steps_per_s": runs * steps / wall,
        "commits_per_step": commits / (runs * steps),
    }
    if xact_before is not None:
        metrics["xact_per_step"] = (pgstats.settled_xact_commit(url) - xact_before) / (runs * steps)
    return metrics


def _xact_before(engine: Engine, url: str) -> int | None:
    """On PostgreSQL, close the setup engine (its backends then report their
    counts) and read the database's commit counter before the timed part."""
    if not _is_pg(url):
        return None
    engine.close()
    return pgstats.settled_xact_commit(url)


def _commits(engine: Engine) -> int:
    return int(getattr(engine.store, "commits", 0))


def _check(ok: bool, detail: object) -> None:
    if not ok:
        raise SystemExit(f"workload result is wrong: {detail!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workload", required=True, choices=["W1", "W2", "W3", "W6"])
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--store-url", required=True)
    parser.add_argument("--profile", help="write a pyinstrument text profile here")
    args = parser.parse_args()
    run = {
        "W1": lambda: sequential(args.store_url, args.size),
        "W6": lambda: sequential(args.store_url, args.size, again=True),
        "W2": lambda: fan_out(args.store_url, args.size),
        "W3": lambda: throughput(args.store_url, args.size),
    }[args.workload]
    if args.profile:
        # pyinstrument is a tool of the person profiling, not a dependency.
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        profiler.start()
        metrics = run()
        profiler.stop()
        Path(args.profile).write_text(profiler.output_text(unicode=False, show_all=False))
        Path(args.profile).with_suffix(".json").write_text(_flat_profile_json(profiler))
    else:
        metrics = run()
    print(json.dumps({"metrics": metrics}))


#: The timed part of each workload: the profile is ranked within this call,
#: so imports and setup do not crowd the list.
_TIMED = {"run", "serve"}


def _flat_profile_json(profiler: Any) -> str:
    """Self time per ``file:function`` inside the timed call, to rank the top costs."""
    session = profiler.last_session
    root = session.root_frame()
    totals: dict[str, float] = {}

    def find(node: Any) -> Any:
        if node.function in _TIMED and "cadenza/engine/engine.py" in (node.file_path or ""):
            return node
        for child in node.children:
            found = find(child)
            if found is not None:
                return found
        return None

    def walk(node: Any, parent_key: str) -> None:
        key = f"{node.file_path_short or node.file_path}:{node.function}"
        # pyinstrument's synthetic "[self]" frames are already part of their
        # caller's total_self_time: counting them again would double it.
        if not node.function.startswith("["):
            totals[key] = totals.get(key, 0.0) + node.total_self_time
        for child in node.children:
            walk(child, key)

    timed = find(root) if root is not None else None
    if timed is not None:
        walk(timed, "?")
    duration = timed.time if timed is not None else session.duration
    ranked = sorted(totals.items(), key=lambda kv: kv[1], reverse=True)
    return json.dumps(
        {"timed_s": duration, "self_time": [[k, v, v / duration] for k, v in ranked[:40]]},
        indent=1,
    )


if __name__ == "__main__":
    main()
