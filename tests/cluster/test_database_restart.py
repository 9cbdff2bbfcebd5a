"""Restart the PostgreSQL server under a running cluster; nothing is lost or doubled.

The test builds a throwaway PostgreSQL cluster of its own with ``initdb`` and
``pg_ctl`` (from ``pg_config --bindir``, else ``/usr/lib/postgresql/*/bin`` or
``PATH``) in a fresh temporary directory, on a free port of 127.0.0.1, with
``trust`` authentication and ``fsync=off``. It never touches the shared
server of the other tests.

PostgreSQL refuses to run as root. When the test runs as root (as it does in
the project's containers) it runs ``initdb``/``pg_ctl`` as the ``postgres`` OS
user through ``runuser -u postgres --``, in a directory made with
``tempfile.mkdtemp`` (outside pytest's root-only ``tmp_path``) and handed to
that user with ``chown``; the directory is removed afterwards. As any other
user it runs them directly. Without the binaries (or, as root, without a
``postgres`` user or ``runuser``) the test skips with the reason, which CI
(``CADENZA_REQUIRE_ALL=1``) turns into a failure.

What it proves: 2 ``cadenza worker`` processes run 100 executions. After
some have completed, the database is restarted (``pg_ctl restart -m fast``,
which ends every connection at once); later it is stopped for longer than
the task lease and started again, so leases expire during the outage. The
workers ride out both outages (neither exits), and all 100 executions then
succeed with the expected output and clean histories: contiguous seq, each
scheduled task completed exactly once, the execution completed once. A side
effect may repeat only for an attempt that history records as lost (its
lease expired during the outage), never silently.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cadenza.model.errors import StoreError
from cadenza.store import open_store

from .chaos import (
    Cluster,
    Member,
    activity_timeline,
    read_marks,
    start_executions,
    unfinished_count,
    verify,
    wait_for,
)

EXECUTIONS = 100
WORKERS = 2
LEASE = 3.0
#: Executions that must have succeeded before the restart, and before the long outage.
BEFORE_RESTART = 5
BEFORE_OUTAGE = 40
#: The long outage lasts at least this long: longer than a lease.
OUTAGE = LEASE * 1.5


def _bindir() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``, if any."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        result = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, timeout=30, check=False
        )
        if result.returncode == 0 and result.stdout.strip():
            candidates.append(Path(result.stdout.strip()))
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).parent)
    for candidate in candidates:
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Throwaway:
    """A PostgreSQL cluster of this test's own."""

    bindir: Path
    root: Path
    port: int
    prefix: list[str]  # how to run a PostgreSQL binary as a user it accepts

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, *args: str, timeout: float = 60) -> None:
        command = [*self.prefix, str(self.bindir / args[0]), *args[1:]]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise AssertionError(
                f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n"
                f"{result.stderr}\n{self.server_log()}"
            )

    def pg_ctl(self, action: str, *extra: str) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self.run(
            "pg_ctl", action, "-D", str(self.data), "-l", str(self.log), "-o", options,
            "-w", "-t", "60", *extra,
        )  # fmt: skip

    def server_log(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""


@pytest.fixture
def throwaway_postgres() -> Iterator[Throwaway]:
    """A fresh PostgreSQL cluster on a free port, stopped and removed afterwards."""
    bindir = _bindir()
    if bindir is None:
        pytest.skip("initdb/pg_ctl not found (pg_config --bindir, /usr/lib/postgresql/*/bin, PATH)")
    prefix: list[str] = []
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root, and there is no 'postgres' user to run PostgreSQL as")
        if runuser is None:
            pytest.skip("running as root, and runuser is missing to run PostgreSQL as 'postgres'")
        prefix = [runuser, "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="cadenza-pg-"))
    if owner is not None:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    root.chmod(0o700)
    server = Throwaway(bindir, root, _free_port(), prefix)
    try:
        server.run(
            "initdb", "-D", str(server.data), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        server.pg_ctl("start")
        yield server
    finally:
        if (server.data / "postmaster.pid").exists():
            server.run("pg_ctl", "stop", "-D", str(server.data), "-m", "immediate", "-w")
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_a_database_restart_loses_and_duplicates_nothing(
    throwaway_postgres: Throwaway, tmp_path: Path
) -> None:
    """100 executions on 2 workers all succeed cleanly across a restart of PostgreSQL."""
    began = time.monotonic()
    url = throwaway_postgres.url
    marks = tmp_path / "marks.tsv"
    # A little more work per activity than the chaos tests: the run must still
    # be going when the database restarts.
    cluster = Cluster(tmp_path, url, marks, lease=LEASE, concurrency=4, work_seconds=0.05)
    store = open_store(url)  # applies the migrations before the workers start
    crashed: list[int] = []
    try:
        for _ in range(WORKERS):
            cluster.start("worker")
        cluster.wait_ready()
        executions = start_executions(url, EXECUTIONS)
        started = time.monotonic()

        def top_up() -> None:
            # While the database is up: replace workers the known bug ended.
            crashed.extend(_known_crashes(cluster))
            while len(cluster.live()) < WORKERS:
                cluster.start("worker")

        def succeeded() -> int:
            top_up()
            try:
                return len(store.list_executions(limit=1000, statuses=("succeeded",)))
            except StoreError:
                return -1  # this test's own connection met the restart; ask again

        wait_for(lambda: succeeded() >= BEFORE_RESTART, 60, f"{BEFORE_RESTART} to succeed")
        before_restart = succeeded()
        restart_began = time.monotonic()
        throwaway_postgres.pg_ctl("restart", "-m", "fast")
        restart_took = time.monotonic() - restart_began
        cluster.timeline.append((time.monotonic_ns(), "database restarted"))

        wait_for(lambda: succeeded() >= BEFORE_OUTAGE, 60, f"{BEFORE_OUTAGE} to succeed")
        before_outage = succeeded()
        errors_before = {m.log: _store_errors(m) for m in cluster.members}
        throwaway_postgres.run("pg_ctl", "stop", "-D", str(throwaway_postgres.data), "-m", "fast")
        stopped = time.monotonic()
        cluster.timeline.append((time.monotonic_ns(), "database stopped"))

        def outage_noticed() -> bool:
            # Both workers have hit the outage, and it has lasted longer than a lease.
            crashed.extend(_known_crashes(cluster))
            noticed = all(_store_errors(m) > errors_before.get(m.log, 0) for m in cluster.live())
            return noticed and time.monotonic() - stopped >= OUTAGE

        wait_for(outage_noticed, 60, "both workers to notice the outage")
        throwaway_postgres.pg_ctl("start")
        outage_took = time.monotonic() - stopped
        top_up()
        cluster.timeline.append((time.monotonic_ns(), "database started"))
        restarted = time.monotonic()

        def finished() -> bool:
            top_up()
            return unfinished_count(store) == 0

        # The engine's outage backoff is capped at 5 s; a lease may have to
        # expire once (LEASE) before a task is run again.
        wait_for(finished, LEASE * 5 + 45, "every execution to finish after the restart")
        drained = time.monotonic()
        crashed.extend(_known_crashes(cluster))
        summary = verify(
            store, executions, read_marks(marks), cluster.killed, lost_owner_must_be_killed=False
        )
    except BaseException:
        print(activity_timeline(read_marks(marks), cluster))
        print(cluster.logs())
        print(throwaway_postgres.server_log())
        raise
    finally:
        cluster.stop()
        store.close()
    warnings = sum(_store_errors(m) for m in cluster.members)
    print(activity_timeline(read_marks(marks), cluster))
    print(
        f"\ndatabase restart: succeeded_before_restart={before_restart} "
        f"restart_took={restart_took:.1f}s succeeded_before_outage={before_outage} "
        f"outage={outage_took:.1f}s store_error_warnings={warnings} {summary.line()} "
        f"run_before_restart={restart_began - started:.1f}s "
        f"drain={drained - restarted:.1f}s total={time.monotonic() - began:.1f}s"
    )
    assert before_outage < EXECUTIONS, "all finished before the outage; it proved nothing"
    assert not crashed


def _known_crashes(cluster: Cluster) -> list[int]:
    """Workers must ride out the outage: any worker that exits by itself fails the test."""
    for member in cluster.live():
        code = member.process.poll()
        if code is not None:
            text = member.log.read_text(errors="replace")
            raise AssertionError(
                f"{member.kind} pid {member.process.pid} exited by itself with {code}:\n"
                + text[-3000:]
            )
    return []


def _store_errors(member: Member) -> int:
    """How many store-error warnings (the engine riding out an outage) ``member`` logged."""
    return member.log.read_text(errors="replace").count("store error")
