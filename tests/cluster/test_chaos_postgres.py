"""SIGKILL chaos on a PostgreSQL cluster: 2 servers and 3 workers, 300 executions.

Proves invariants 3-5 of DESIGN.md across real processes sharing one
PostgreSQL database (a fresh one per test, see ``tests/conftest.py``): while a
random server or worker is SIGKILLed about every second for 20 s (and a
replacement started; victims are drawn from the processes that are serving,
see ``Cluster.kill_one``), no execution is lost, stuck or decided twice; every
history stays contiguous with each scheduled task completed exactly once;
every lease declared lost belonged to a killed process; and an activity's
side effect runs more than once only when the process running an earlier
attempt was one the test killed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .chaos import run_chaos

LEASE = 3.0
CHAOS_SECONDS = 20.0


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_sigkill_chaos_on_postgres_loses_and_duplicates_nothing(
    postgres_url: str, tmp_path: Path
) -> None:
    """300 executions (parallel branches, a join, with-items, an Orquesta retry)
    finish correctly while a random one of 5 processes is SIGKILLed every second."""
    report = run_chaos(
        tmp_path,
        postgres_url,
        servers=2,
        workers=3,
        executions=300,
        chaos_seconds=CHAOS_SECONDS,
        lease=LEASE,
        # After the chaos the cluster must keep moving (no stall longer than
        # LEASE * 5 + 15 s, see ``drain``) and finish the work left -- often
        # all 300 executions, their steps spread breadth-first -- within this
        # cap, sized for a busy 2-core machine.
        drain_timeout=LEASE * 5 + 75,
    )
    print(report.line("postgres chaos"))
    assert report.kills >= CHAOS_SECONDS - 2
