"""Bytes a SQLite store keeps per workflow step, with and without the claim-check.

Two Orquesta workflows, each ``--steps`` steps long, run to the end on a fresh
SQLite file:

* ``chain``: a sequence of tasks, each publishing its result as ``last``
  (so the context always holds the newest result);
* ``with-items``: one task over ``--steps`` items, its results gathered.

Each task returns a distinct text of ``--result-bytes`` characters (random
hex, so no two results are the same blob). For each shape and result size it
runs twice: with the claim-check off (the inline threshold set above every
value: everything stays in its row, as before the claim-check) and on (the
default 256 KiB threshold). Reported: the bytes of history payloads, of the
snapshot and output columns, of the blob table, their sum divided by the
steps, and the database file's size after a checkpoint.

    python bench/bytes_per_step.py --steps 100 --result-bytes 100 1048576

``--lifecycle`` measures instead what deleting unreferenced blobs saves: a
``--steps`` long run whose snapshot grows past the inline threshold (a
with-items task gathering ``--result-bytes`` results, and a chain whose
context keeps a list that grows each step) rewrites its snapshot blob again
and again. Reported: the blob bytes the run wrote in all (what the blob table
kept at the end before replaced snapshots' blobs were deleted) and the blob
bytes kept at the end now.

    python bench/bytes_per_step.py --lifecycle --steps 1000 --result-bytes 300
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cadenza.engine.engine import Engine
from cadenza.store.payloads import GIB, PayloadLimits
from cadenza.store.sqlite import SQLiteStore
from cadenza.workers.registry import default_registry


def chain(steps: int) -> str:
    lines = ["version: 1.0", "input:", "  - size", "tasks:"]
    for i in range(steps):
        lines += [f"  t{i}:", "    action: bench.payload size=<% ctx(size) %>"]
        lines += ["    next:", "      - when: <% succeeded() %>", "        publish:"]
        lines += ["          - last: <% result() %>"]
        if i + 1 < steps:
            lines += [f"        do: t{i + 1}"]
    lines += ["output:", "  - size: <% len(ctx(last)) %>"]
    return "\n".join(lines) + "\n"


def growing_chain(steps: int) -> str:
    """A chain whose context keeps every result so far: its snapshot grows each step."""
    lines = ["version: 1.0", "input:", "  - size", "vars:", "  - kept: []", "tasks:"]
    for i in range(steps):
        lines += [f"  t{i}:", "    action: bench.payload size=<% ctx(size) %>"]
        lines += ["    next:", "      - when: <% succeeded() %>", "        publish:"]
        lines += ["          - kept: <% ctx(kept) + [result()] %>"]
        if i + 1 < steps:
            lines += [f"        do: t{i + 1}"]
    lines += ["output:", "  - count: <% len(ctx(kept)) %>"]
    return "\n".join(lines) + "\n"


def with_items(steps: int) -> str:
    return f"""\
version: 1.0
input:
  - size
tasks:
  each:
    with: <% range({steps}) %>
    action: bench.payload size=<% ctx(size) %>
    next:
      - when: <% succeeded() %>
        publish:
          - count: <% len(result()) %>
output:
  - count: <% ctx(count) %>
"""


@dataclass
class Measure:
    shape: str
    result_bytes: int
    claim_check: bool
    history: int
    rows: int
    blobs: int
    file: int
    seconds: float
    steps: int

    @property
    def per_step(self) -> float:
        return (self.history + self.rows + self.blobs) / self.steps


def measure(shape: str, source: str, steps: int, size: int, claim_check: bool) -> Measure:
    registry = default_registry()
    registry.register("bench.payload", lambda size: os.urandom(size // 2 + 1).hex()[:size])
    limits = PayloadLimits() if claim_check else PayloadLimits(inline_bytes=GIB)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        store = SQLiteStore(str(path), payload_limits=limits)
        engine = Engine(store, registry=registry)
        definition = engine.register(source, kind="orquesta")
        began = time.perf_counter()
        done = engine.run(definition, {"size": size}, timeout=3600)
        seconds = time.perf_counter() - began
        if done.status != "succeeded":
            raise SystemExit(f"{shape} ended {done.status}: {done.errors}")
        engine.close()
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            [history] = conn.execute("SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM history")
            [rows] = conn.execute(
                "SELECT COALESCE(SUM(LENGTH(snapshot)), 0) + COALESCE(SUM(LENGTH(output)), 0) "
                "FROM executions"
            )
            [blobs] = conn.execute("SELECT COALESCE(SUM(size), 0) FROM blobs")
        return Measure(
            shape,
            size,
            claim_check,
            int(history[0]),
            int(rows[0]),
            int(blobs[0]),
            path.stat().st_size,
            seconds,
            steps,
        )


#: Notes every blob written, in a table of its own, so the bytes a run wrote in
#: all can be told apart from those still kept at its end.
_BLOB_LOG = """
CREATE TABLE IF NOT EXISTS bench_blob_log (digest TEXT, size INTEGER);
CREATE TRIGGER IF NOT EXISTS bench_blob_written AFTER INSERT ON blobs
BEGIN
    INSERT INTO bench_blob_log (digest, size) VALUES (NEW.digest, NEW.size);
END;
"""


def lifecycle(shape: str, source: str, size: int) -> tuple[int, int, int, int, float]:
    """Blobs written in all and kept at the end of one run (count, bytes each),
    and its seconds."""
    registry = default_registry()
    registry.register("bench.payload", lambda size: os.urandom(size // 2 + 1).hex()[:size])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        SQLiteStore(str(path)).close()
        with sqlite3.connect(path) as conn:
            conn.executescript(_BLOB_LOG)
        engine = Engine(SQLiteStore(str(path)), registry=registry)
        definition = engine.register(source, kind="orquesta")
        began = time.perf_counter()
        done = engine.run(definition, {"size": size}, timeout=3600)
        seconds = time.perf_counter() - began
        engine.close()
        if done.status != "succeeded":
            raise SystemExit(f"{shape} ended {done.status}: {done.errors}")
        with sqlite3.connect(path) as conn:
            [written] = conn.execute(
                "SELECT COUNT(DISTINCT digest), COALESCE(SUM(size), 0) FROM "
                "(SELECT digest, MAX(size) AS size FROM bench_blob_log GROUP BY digest)"
            )
            [kept] = conn.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM blobs")
        return int(written[0]), int(written[1]), int(kept[0]), int(kept[1]), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--result-bytes", type=int, nargs="+", default=[100, 1024 * 1024])
    parser.add_argument(
        "--lifecycle",
        action="store_true",
        help="blob bytes written in all against kept at the end of a run whose snapshot grows",
    )
    args = parser.parse_args()
    if args.lifecycle:
        print(
            "| shape | steps | result bytes | blobs written | blob bytes written (kept before) "
            "| blobs kept | blob bytes kept | seconds |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        growing = {"with-items": with_items(args.steps), "chain": growing_chain(args.steps)}
        for size in args.result_bytes:
            for shape, source in growing.items():
                n_written, written, n_kept, kept, seconds = lifecycle(shape, source, size)
                print(
                    f"| {shape} | {args.steps:,} | {size:,} | {n_written:,} | {written:,} "
                    f"| {n_kept:,} | {kept:,} | {seconds:.2f} |",
                    flush=True,
                )
        return
    shapes = {"chain": chain(args.steps), "with-items": with_items(args.steps)}
    print(
        "| shape | result bytes | claim-check | history | snapshot+output | blobs "
        "| bytes/step | file | seconds |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for size in args.result_bytes:
        for shape, source in shapes.items():
            for claim_check in (False, True):
                m = measure(shape, source, args.steps, size, claim_check)
                print(
                    f"| {m.shape} | {m.result_bytes:,} | {'on' if m.claim_check else 'off'} "
                    f"| {m.history:,} | {m.rows:,} | {m.blobs:,} | {m.per_step:,.0f} "
                    f"| {m.file:,} | {m.seconds:.2f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
