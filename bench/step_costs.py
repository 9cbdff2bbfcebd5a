"""What one sequential step costs, in measures that do not depend on how busy
the machine is: round trips and statements (PostgreSQL, from a libpq trace of
every connection the engine opens), statements (SQLite, from the
connection's trace callback), CPU seconds of the process (all its threads),
commits, and bytes stored. Wall time is printed beside the load average.

    python bench/step_costs.py --stores sqlite,postgres --steps 10,100,1000

Each measurement is one run of the W1/W6 chain (``workloads/orquesta.py``) on
a fresh store: a new SQLite file, or a new PostgreSQL database on the server
of ``--postgres`` (dropped afterwards). Prints one JSON object per line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workloads import actions, orquesta

from cadenza.engine.engine import Engine

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def trace_counts(text: str) -> tuple[int, int]:
    """``(round trips, statements)`` in one libpq trace: a round trip is a
    server message after a client one; a statement is an Execute or a Query."""
    trips = statements = 0
    previous = ""
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or parts[0] not in ("F", "B"):
            continue
        if parts[0] == "F" and parts[2] in ("Execute", "Query"):
            statements += 1
        if parts[0] == "B" and previous == "F":
            trips += 1
        previous = parts[0]
    return trips, statements


@contextmanager
def traced_postgres(folder: Path) -> Iterator[list[Path]]:
    """Trace every connection the PostgreSQL store opens into ``folder``."""
    import psycopg

    from cadenza.store.postgres import connections

    files: list[Path] = []
    handles: list[Any] = []
    connect = connections.connect

    def tracing(url: str, where: str, connect_timeout: float) -> Any:
        conn = connect(url, where, connect_timeout)
        path = folder / f"conn{len(files)}.trace"
        handle = path.open("w")
        handles.append(handle)
        conn.pgconn.trace(handle.fileno())
        conn.pgconn.set_trace_flags(
            psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE
        )
        files.append(path)
        return conn

    connections.connect = tracing
    try:
        yield files
    finally:
        connections.connect = connect
        for handle in handles:
            handle.close()


@contextmanager
def fresh_postgres(server: str) -> Iterator[str]:
    import psycopg

    name = "cadenza_steps_" + uuid.uuid4().hex[:12]
    base, _, _ = server.rpartition("/")
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def database_bytes(url: str) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else 0


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(store: str, steps: int, postgres: str) -> dict[str, Any]:
    source = orquesta.chain(steps)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if store == "sqlite":
            url = f"sqlite:///{folder / 'steps.db'}"
            return _run(url, source, steps, folder, store)
        with fresh_postgres(postgres) as url:
            return _run(url, source, steps, folder, store)


def _run(url: str, source: str, steps: int, folder: Path, store: str) -> dict[str, Any]:
    found: dict[str, Any] = {"store": store, "steps": steps}
    statements = 0

    def count(_sql: str) -> None:
        nonlocal statements
        statements += 1

    # Registered by an engine of its own, so the trace holds the run alone
    # (and opening the store, a few round trips).
    first = Engine(url)
    actions.register(first.registry)
    definition = first.register(source, origin=f"chain{steps}.yaml")
    first.close()
    bytes_before = database_bytes(url) if store == "postgres" else _file_bytes(folder)
    with traced_postgres(folder) if store == "postgres" else _nothing() as traces:
        engine = Engine(url)
        actions.register(engine.registry)
        if store == "sqlite":
            engine.store._conn.set_trace_callback(count)  # type: ignore[attr-defined]
        commits = engine.store.commits
        load = os.getloadavg()[0]
        cpu, started = cpu_seconds(), time.perf_counter()
        record = engine.run(definition, {"v": 0})
        wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        commits = engine.store.commits - commits
        engine.close()
        if record.status != "succeeded" or record.output != {"v": steps}:
            raise SystemExit(f"run did not succeed: {record}")
    found.update(
        wall_ms_per_step=round(wall / steps * 1000, 3),
        cpu_ms_per_step=round(cpu / steps * 1000, 3),
        commits_per_step=round(commits / steps, 3),
        load_average=load,
    )
    if store == "postgres":
        trips = statements = 0
        for path in traces:
            more_trips, more_statements = trace_counts(path.read_text())
            trips += more_trips
            statements += more_statements
        found["round_trips_per_step"] = round(trips / steps, 2)
        found["bytes_per_step"] = round((database_bytes(url) - bytes_before) / steps)
    else:
        found["bytes_per_step"] = round((_file_bytes(folder) - bytes_before) / steps)
    found["statements_per_step"] = round(statements / steps, 2)
    return found


def _file_bytes(folder: Path) -> int:
    """Bytes of the SQLite store's files (the database and its WAL)."""
    return sum(path.stat().st_size for path in folder.glob("steps.db*"))


@contextmanager
def _nothing() -> Iterator[list[Path]]:
    yield []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--steps", default="10,100,1000")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="server URL (a database)")
    args = parser.parse_args()
    for store in args.stores.split(","):
        for steps in (int(n) for n in args.steps.split(",")):
            print(json.dumps(measure(store, steps, args.postgres)), flush=True)


if __name__ == "__main__":
    main()
