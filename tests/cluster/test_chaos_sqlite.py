"""SIGKILL chaos on one SQLite file shared by 3 processes (1 server, 2 workers).

The embedded store is one file, but several processes on one host may share
it: SQLite's file locks serialise their transactions. This proves the same
invariants as the PostgreSQL chaos test on that shape: with a random process
SIGKILLed about every second for 10 s (and replaced; see ``Cluster.kill_one``),
60 executions all
succeed with the expected output, histories stay contiguous with every
scheduled task completed exactly once, and side effects repeat only for
attempts whose process was killed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .chaos import run_chaos

LEASE = 3.0
CHAOS_SECONDS = 10.0


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_sigkill_chaos_on_one_sqlite_file_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    """60 executions finish correctly while a random one of 3 processes sharing
    one SQLite file is SIGKILLed every second."""
    report = run_chaos(
        tmp_path,
        f"sqlite:///{tmp_path / 'cadenza.db'}",
        servers=1,
        workers=2,
        executions=60,
        chaos_seconds=CHAOS_SECONDS,
        lease=LEASE,
        # After the chaos the cluster must keep moving (no stall longer than
        # LEASE * 5 + 15 s, see ``drain``) and finish within this cap.
        drain_timeout=LEASE * 5 + 45,
    )
    print(report.line("sqlite chaos"))
    assert report.kills >= CHAOS_SECONDS - 2
