"""SIGKILL chaos on a PostgreSQL cluster: 2 servers and 3 workers, 300 executions.

Proves invariants 3-5 of DESIGN.md across real processes sharing one
PostgreSQL database: while a random server or worker is SIGKILLed about
every second for 20 s (and replaced), no execution is lost, stuck or
decided twice; every history stays contiguous with each scheduled task
completed exactly once; and an activity's side effect runs more than once
only when the process running an earlier attempt was one the test killed.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from cadenza.store import open_store

from .chaos import Cluster, read_marks, start_executions, unfinished_count, verify, wait_for

EXECUTIONS = 300
CHAOS_SECONDS = 20.0
KILL_EVERY = 1.0
LEASE = 3.0
SERVERS, WORKERS = 2, 3


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_sigkill_chaos_on_postgres_loses_and_duplicates_nothing(
    postgres_url: str, tmp_path: Path
) -> None:
    """300 executions (parallel branches, a join, with-items, an Orquesta retry)
    finish correctly while a random one of 5 processes is SIGKILLed every second."""
    began = time.monotonic()
    marks = tmp_path / "marks.tsv"
    cluster = Cluster(tmp_path, postgres_url, marks, lease=LEASE, concurrency=4)
    rng = random.Random(int(time.time()))
    store = open_store(postgres_url)
    try:
        for _ in range(SERVERS):
            cluster.start("server")
        for _ in range(WORKERS):
            cluster.start("worker")
        cluster.wait_ready()
        ready = time.monotonic()
        executions = start_executions(postgres_url, EXECUTIONS)
        chaos_began = time.monotonic()
        kills = cluster.chaos(CHAOS_SECONDS, KILL_EVERY, rng)
        chaos_ended = time.monotonic()
        left_after_chaos = unfinished_count(store)

        def finished() -> bool:
            cluster.check_alive()
            return unfinished_count(store) == 0

        wait_for(finished, LEASE * 5 + 30, "every execution to finish after the chaos")
        drained = time.monotonic()
        summary = verify(store, executions, read_marks(marks), cluster.killed)
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        cluster.stop()
        store.close()
    print(
        f"\npostgres chaos: kills={kills} processes_started={cluster.started} "
        f"unfinished_after_chaos={left_after_chaos} {summary.line()} "
        f"ready={ready - began:.1f}s start={chaos_began - ready:.1f}s "
        f"chaos={chaos_ended - chaos_began:.1f}s "
        f"drain={drained - chaos_ended:.1f}s total={time.monotonic() - began:.1f}s"
    )
    assert kills >= CHAOS_SECONDS / KILL_EVERY - 2
