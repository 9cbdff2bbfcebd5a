"""Sagas: the engine's cost per node, forward and unwinding, on SQLite and PostgreSQL.

Two shapes, each run once going forward (every action succeeds) and once
unwinding (the last node's action fails, so every other action is undone):

* ``sequential``: ``--chain`` actions in a row (default 100);
* ``fan-out``: one action, ``--width`` actions in parallel (default 1,000),
  then one joining action.

Each action and undo is a no-op Python activity, so the figure is the
engine's own cost: an in-process ``Engine.run`` (decisions, store commits,
``--concurrency`` activity threads) on a temporary SQLite file, and on a
fresh PostgreSQL database when ``--store-url`` reaches one. Reported per run:
wall time, and **ms/step** = wall time / steps run (actions, plus undos when
unwinding; the failing action counts). Registration and start are not timed.
No peer runs sagas with undo, so the figures stand alone. Run ``python
bench/sagas.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cadenza.engine.engine import Engine
from cadenza.interpreters.saga import Faults, SagaBuilder, action, register_fault_activities


def noop(**_: Any) -> dict[str, bool]:
    """A step that does nothing, so only the engine's cost is measured."""
    return {"ok": True}


def step(name: str) -> Any:
    return action(name, do="bench.saga_do", undo="bench.saga_undo")


def sequential(length: int) -> dict[str, Any]:
    builder = SagaBuilder(f"sequential-{length}")
    for i in range(length):
        builder.append(step(f"s{i}"))
    return dict(builder.build().document)


def fan_out(width: int) -> dict[str, Any]:
    builder = SagaBuilder(f"fan-out-{width}").append(step("first"))
    builder.append_parallel(*(step(f"p{i}") for i in range(width)))
    builder.append(step("join"))
    return dict(builder.build().document)


def measure(url: str, document: dict[str, Any], unwind: bool, concurrency: int) -> dict[str, Any]:
    # A short poll: the loop notices the end at once, so the wall time is the work.
    engine = Engine(url, concurrency=concurrency, poll_interval=0.01)
    try:
        engine.registry.register("bench.saga_do", noop)
        engine.registry.register("bench.saga_undo", noop)
        register_fault_activities(engine.registry)
        definition = engine.register(json.dumps(document), kind="saga")
        last = document["stages"][-1]["action"]
        actions = sum(len(s.get("parallel", [s])) for s in document["stages"])
        faults = Faults().action_error(last) if unwind else Faults()
        execution_id = engine.start(definition, {}, context=faults.context())
        began = time.perf_counter()
        record = engine.drive(execution_id, timeout=3600)
        wall = time.perf_counter() - began
    finally:
        engine.close()
    expected = "failed" if unwind else "succeeded"
    if record.status != expected:
        raise SystemExit(f"{document['saga']}: ended {record.status}, not {expected}")
    steps = actions + (actions - 1 if unwind else 0)
    return {"wall_s": wall, "steps": steps, "ms_per_step": wall * 1000 / steps}


@contextmanager
def postgres_database(url: str) -> Iterator[str | None]:
    """A fresh database on the server of ``url``, or None when it cannot be reached."""
    try:
        import psycopg
    except ImportError:
        yield None
        return
    name = f"bench_saga_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error:
        yield None
        return
    try:
        yield f"{url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--chain", type=int, default=100, help="actions of the sequential saga")
    parser.add_argument("--width", type=int, default=1000, help="parallel actions of the fan-out")
    parser.add_argument("--concurrency", type=int, default=8, help="activity threads")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--store-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    shapes = {"sequential": sequential(args.chain), "fan-out": fan_out(args.width)}
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-saga-") as tmp:
        for repetition in range(args.repeat):
            for store in ("sqlite", "postgres"):
                for shape, document in shapes.items():
                    for unwind in (False, True):
                        if store == "sqlite":
                            opened: Any = _sqlite(Path(tmp), f"{repetition}-{shape}-{unwind}")
                        else:
                            opened = postgres_database(args.store_url)
                        with opened as url:
                            if url is None:
                                print(f"{store}: unavailable, skipped", file=sys.stderr)
                                continue
                            run = measure(url, document, unwind, args.concurrency)
                        direction = "unwinding" if unwind else "forward"
                        run.update(store=store, shape=shape, direction=direction)
                        results.append(run)
                        print(
                            f"[{repetition + 1}/{args.repeat}] {store} {shape} {direction}: "
                            f"{run['steps']} steps in {run['wall_s']:.2f} s, "
                            f"{run['ms_per_step']:.2f} ms/step",
                            file=sys.stderr,
                        )
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(
        f"sequential {args.chain} actions, fan-out {args.width} actions, "
        f"{args.concurrency} activity threads, {args.repeat} runs: ms/step, median (min-max)"
    )
    print("| store | shape | forward | unwinding |")
    print("|---|---|---|---|")
    for store in ("sqlite", "postgres"):
        for shape in shapes:
            cells = []
            for direction in ("forward", "unwinding"):
                values = [
                    r["ms_per_step"]
                    for r in results
                    if (r["store"], r["shape"], r["direction"]) == (store, shape, direction)
                ]
                cells.append(
                    f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"
                    if values
                    else "-"
                )
            print(f"| {store} | {shape} | " + " | ".join(cells) + " |")
    return 0


@contextmanager
def _sqlite(workdir: Path, name: str) -> Iterator[str]:
    yield f"sqlite:///{workdir / f'store-{name}.db'}"


if __name__ == "__main__":
    sys.exit(main())
