"""Throughput of a Cadenza cluster on PostgreSQL: N worker processes, one database.

For each worker-process count N (``--processes``), and ``--repeat`` times each:

1. create a fresh database on the server named by ``--store-url`` (dropped
   afterwards) and run ``cadenza db upgrade`` on it;
2. register a ``--steps``-long sequential Orquesta workflow of ``core.noop``
   tasks and start ``--executions`` executions with the Python API, without
   serving them (setup, not timed);
3. start N ``cadenza worker --exit-when-idle`` processes and time from their
   start until the last one exits, which happens once no execution is left
   unfinished; then check that every execution succeeded with every step.

Reported per run: steps per second (executions x steps / wall time) and the
database's own count of committed transactions (``xact_commit`` of
``pg_stat_database``) across the timed window, per executed step and per
execution. Steps per second counts each process's start-up (imports,
connecting): N processes pay it N times on the same cores. So each run also
reports the rate once every worker is serving ("all serving"): the steps
completed after the last worker opened its first session, over the time
from then to the last completion, from the history's timestamps. Each
worker's sessions carry an application name of its own (``PGAPPNAME``),
which the benchmark watches in ``pg_stat_activity`` while the workers
start. ``--tree LABEL=SRC`` (repeatable) runs the workers of each
configuration once per source tree (``SRC`` first on their ``PYTHONPATH``),
interleaved, to compare two versions in one run. Run ``python
bench/cluster.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

import cadenza as cadenza_package
from cadenza.engine.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workloads.bytecode import compile_sources

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"

#: Worker i's sessions are named WORKER_APP_PREFIX + i (libpq's ``PGAPPNAME``).
WORKER_APP_PREFIX = "cadenza-bench-worker-"

#: Sizes of ``--quick``: enough to exercise every stage in a few seconds.
QUICK = {"executions": 40, "steps": 5, "repeat": 1}


@dataclass
class Run:
    """One timed run of one configuration."""

    processes: int
    concurrency: int
    executions: int
    steps: int
    wall_s: float
    #: From worker start to the newest ``updated_at`` among executions: the
    #: work itself, without the workers' shutdown.
    last_finish_s: float
    xact_commit: int
    xact_rollback: int
    #: CPU seconds (user + system) used by the worker processes.
    worker_cpu_s: float
    #: Fraction of all cores busy during the window (whole machine, incl. PostgreSQL).
    machine_busy: float | None
    #: One-minute load average when the run started: other work on the machine.
    load_before: float
    #: The ``--tree`` label whose sources the workers ran ("" without ``--tree``).
    tree: str = ""
    #: From worker start until the last worker had opened a session.
    all_serving_s: float | None = None
    #: Steps completed after that moment, and the seconds from it to the last one.
    steps_after_serving: int = 0
    serving_window_s: float | None = None

    @property
    def total_steps(self) -> int:
        return self.executions * self.steps

    @property
    def steps_per_s(self) -> float:
        return self.total_steps / self.wall_s

    @property
    def serving_steps_per_s(self) -> float | None:
        """Steps per second once every worker was serving (None when not seen)."""
        if not self.serving_window_s or self.steps_after_serving == 0:
            return None
        return self.steps_after_serving / self.serving_window_s

    @property
    def commits_per_step(self) -> float:
        return self.xact_commit / self.total_steps

    @property
    def commits_per_execution(self) -> float:
        return self.xact_commit / self.executions

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "steps_per_s": self.steps_per_s,
            "serving_steps_per_s": self.serving_steps_per_s,
            "commits_per_step": self.commits_per_step,
            "commits_per_execution": self.commits_per_execution,
        }


# --- the workflow ------------------------------------------------------------------------


def workflow_source(steps: int) -> str:
    """A sequential Orquesta workflow: step1 -> step2 -> ... -> stepN, all ``core.noop``."""
    lines = ["version: 1.0", "", f"description: {steps} sequential no-op steps.", "", "tasks:"]
    for i in range(1, steps + 1):
        lines += [f"  step{i}:", "    action: core.noop"]
        if i < steps:
            lines += ["    next:", "      - when: <% succeeded() %>", f"        do: step{i + 1}"]
    return "\n".join(lines) + "\n"


# --- databases and statistics ------------------------------------------------------------


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` instead (user, host and options kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def admin_connection(url: str) -> psycopg.Connection[Any]:
    # Autocommit on the database named in the URL, never the benchmark's own:
    # our statistics reads then add nothing to the counters we measure.
    return psycopg.connect(url, autocommit=True)


@contextmanager
def scratch_database(admin: psycopg.Connection[Any], url: str) -> Iterator[tuple[str, str]]:
    """Create a uniquely named database; yield (name, URL); drop it afterwards."""
    name = f"cadenza_bench_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name, with_database(url, name)
    finally:
        # FORCE: a worker killed after a timeout may still hold a connection.
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wait_for_no_backends(admin: psycopg.Connection[Any], dbname: str, timeout: float) -> None:
    """Wait until no session is connected to ``dbname``.

    A backend flushes its pending statistics while it exits, before it leaves
    ``pg_stat_activity``; once none is left, every transaction made on the
    database is in the cumulative statistics.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (dbname,)
        ).fetchone()
        if row is not None and row[0] == 0:
            return
        time.sleep(0.05)
    raise RuntimeError(f"sessions still connected to {dbname} after {timeout} s")


def read_xacts(admin: psycopg.Connection[Any], dbname: str) -> tuple[int, int]:
    """(xact_commit, xact_rollback) of ``dbname``, read fresh."""
    # The default stats_fetch_consistency caches a snapshot per transaction;
    # clearing it makes sure this read is not served from an older one.
    admin.execute("SELECT pg_stat_clear_snapshot()")
    row = admin.execute(
        "SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = %s",
        (dbname,),
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def settled_xacts(admin: psycopg.Connection[Any], dbname: str) -> tuple[int, int]:
    """The counters once every session has gone and two reads 0.2 s apart agree."""
    wait_for_no_backends(admin, dbname, timeout=30.0)
    previous = read_xacts(admin, dbname)
    for _ in range(50):
        time.sleep(0.2)
        current = read_xacts(admin, dbname)
        if current == previous:
            return current
        previous = current
    raise RuntimeError(f"statistics of {dbname} did not settle")


class SessionWatch:
    """Watches ``pg_stat_activity`` on its own connection (to the server's
    default database, so nothing is counted on the measured one) for the
    first session of each worker, named ``WORKER_APP_PREFIX<i>``; stops once
    all ``expected`` have been seen."""

    def __init__(self, url: str, dbname: str, expected: int) -> None:
        self._url, self._dbname, self._expected = url, dbname, expected
        self.first_session: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="session-watch", daemon=True)

    def __enter__(self) -> SessionWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _watch(self) -> None:
        with admin_connection(self._url) as conn:
            while len(self.first_session) < self._expected:
                rows = conn.execute(
                    "SELECT application_name, extract(epoch FROM min(backend_start))"
                    " FROM pg_stat_activity WHERE datname = %s AND application_name LIKE %s"
                    " GROUP BY application_name",
                    (self._dbname, WORKER_APP_PREFIX + "%"),
                ).fetchall()
                for name, started in rows:
                    seen = self.first_session.get(name)
                    self.first_session[name] = (
                        float(started) if seen is None else min(seen, float(started))
                    )
                if self._stop.wait(0.01):
                    return

    @property
    def all_serving_at(self) -> float | None:
        """Epoch seconds when the last worker opened its first session."""
        if len(self.first_session) < self._expected:
            return None
        return max(self.first_session.values())


# --- machine load --------------------------------------------------------------------------


def cpu_ticks() -> tuple[int, int] | None:
    """(busy, total) jiffies of all cores from /proc/stat; None where there is none."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    values = [int(v) for v in fields]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already inside user/nice
    return total - idle, total


def busy_fraction(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    if before is None or after is None or after[1] == before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- one run -------------------------------------------------------------------------------


def cadenza(*args: str) -> list[str]:
    return [sys.executable, "-m", "cadenza", *args]


def tree_environment(source: str | None) -> dict[str, str] | None:
    """The environment of worker processes that run the sources in ``source``."""
    if source is None:
        return None
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH")]))
    return env


def prepare(store_url: str, executions: int, steps: int, env: dict[str, str] | None = None) -> None:
    """Schema, definition and executions: everything before the timed window."""
    subprocess.run(
        cadenza("db", "upgrade", "--store", store_url), check=True, capture_output=True, env=env
    )
    engine = Engine(store_url)
    try:
        definition = engine.register(workflow_source(steps), origin=f"bench-seq-{steps}.yaml")
        for _ in range(executions):
            engine.start(definition)
    finally:
        # Closing ends this process's sessions, so their statistics are flushed
        # and counted before the window opens.
        engine.close()


def run_workers(
    store_url: str,
    processes: int,
    concurrency: int,
    timeout: float,
    env: dict[str, str] | None = None,
) -> float:
    """Start the workers, wait for all of them to exit; return wall seconds."""
    command = cadenza(
        "worker", "--store", store_url, "--concurrency", str(concurrency), "--exit-when-idle"
    )
    with tempfile.TemporaryFile() as log:
        base = dict(os.environ) if env is None else env
        started = time.perf_counter()
        workers = [
            subprocess.Popen(
                command,
                stdout=subprocess.DEVNULL,
                stderr=log,
                env={**base, "PGAPPNAME": f"{WORKER_APP_PREFIX}{i}"},
            )
            for i in range(processes)
        ]
        try:
            for worker in workers:
                remaining = max(0.0, started + timeout - time.perf_counter())
                worker.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            for worker in workers:
                worker.kill()
                worker.wait()
            raise RuntimeError(f"workers still running after {timeout} s") from None
        wall = time.perf_counter() - started
        failed = [w.returncode for w in workers if w.returncode != 0]
        if failed:
            log.seek(0)
            raise RuntimeError(f"worker exit codes {failed}:\n{log.read().decode()[-2000:]}")
    return wall


def steps_after(store_url: str, since: float) -> tuple[int, float]:
    """(tasks completed after ``since``, epoch seconds of the last completion)."""
    with psycopg.connect(store_url) as conn:
        row = conn.execute(
            "SELECT count(*), max(time) FROM history WHERE type = 'TaskCompleted' AND time > %s",
            (since,),
        ).fetchone()
    if row is None or row[1] is None:
        return 0, since
    return int(row[0]), float(row[1])


def verify(store_url: str, executions: int, steps: int) -> float:
    """Check every execution succeeded with every step; return the newest ``updated_at``."""
    with psycopg.connect(store_url) as conn:
        statuses: dict[str, int] = dict(
            conn.execute("SELECT status, count(*) FROM executions GROUP BY status").fetchall()
        )
        completed = conn.execute(
            "SELECT count(*) FROM history WHERE type = 'TaskCompleted'"
        ).fetchone()
        newest = conn.execute("SELECT max(updated_at) FROM executions").fetchone()
    if statuses != {"succeeded": executions}:
        raise RuntimeError(f"expected {executions} succeeded executions, found {statuses}")
    if completed is None or completed[0] != executions * steps:
        raise RuntimeError(f"expected {executions * steps} completed tasks, found {completed}")
    return float(newest[0]) if newest else 0.0


def one_run(
    admin: psycopg.Connection[Any],
    base_url: str,
    args: argparse.Namespace,
    processes: int,
    tree: tuple[str, str | None] = ("", None),
) -> Run:
    label, source = tree
    env = tree_environment(source)
    with scratch_database(admin, base_url) as (dbname, store_url):
        prepare(store_url, args.executions, args.steps, env)
        before = settled_xacts(admin, dbname)
        load = os.getloadavg()[0]
        cpu_before, ticks_before, epoch_start = children_cpu(), cpu_ticks(), time.time()
        with SessionWatch(base_url, dbname, processes) as watch:
            wall = run_workers(store_url, processes, args.concurrency, args.timeout, env)
        cpu_after, ticks_after = children_cpu(), cpu_ticks()
        after = settled_xacts(admin, dbname)
        # Verification reads come after the last statistics read: they are
        # transactions on the same database and must stay out of the count.
        newest = verify(store_url, args.executions, args.steps)
        serving_at = watch.all_serving_at
        after_serving, last = (0, 0.0) if serving_at is None else steps_after(store_url, serving_at)
    return Run(
        processes=processes,
        concurrency=args.concurrency,
        executions=args.executions,
        steps=args.steps,
        wall_s=wall,
        last_finish_s=newest - epoch_start,
        xact_commit=after[0] - before[0],
        xact_rollback=after[1] - before[1],
        worker_cpu_s=cpu_after - cpu_before,
        machine_busy=busy_fraction(ticks_before, ticks_after),
        load_before=load,
        tree=label,
        all_serving_s=None if serving_at is None else serving_at - epoch_start,
        steps_after_serving=after_serving,
        serving_window_s=None if serving_at is None else last - serving_at,
    )


# --- reporting -----------------------------------------------------------------------------


def spread(values: Sequence[float], digits: int) -> str:
    """``median (min-max)``, rounded to ``digits``."""
    med, low, high = statistics.median(values), min(values), max(values)
    return f"{med:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def table(runs: Sequence[Run], processes: Sequence[int], trees: Sequence[str] = ("",)) -> str:
    header = (
        "| worker processes | steps/s | steps/s, all serving | all serving after s | wall s "
        "| commits/step | commits/execution | worker CPU s | machine busy |"
    )
    labelled = trees != ("",)
    rows = [("| tree " if labelled else "") + header, "|" + "---|" * (10 if labelled else 9)]
    for n in processes:
        for tree in trees:
            mine = [r for r in runs if r.processes == n and r.tree == tree]
            rows.append(("| " + tree + " " if labelled else "") + table_row(n, mine))
    return "\n".join(rows)


def table_row(n: int, mine: Sequence[Run]) -> str:
    busy = [r.machine_busy for r in mine if r.machine_busy is not None]
    serving = [rate for r in mine if (rate := r.serving_steps_per_s) is not None]
    ready = [r.all_serving_s for r in mine if r.all_serving_s is not None]
    return (
        f"| {n} | {spread([r.steps_per_s for r in mine], 0)} "
        f"| {spread(serving, 0) if serving else 'n/a'} "
        f"| {spread(ready, 2) if ready else 'n/a'} "
        f"| {spread([r.wall_s for r in mine], 2)} "
        f"| {spread([r.commits_per_step for r in mine], 2)} "
        f"| {spread([r.commits_per_execution for r in mine], 1)} "
        f"| {spread([r.worker_cpu_s for r in mine], 1)} "
        f"| {spread([100 * b for b in busy], 0) + ' %' if busy else 'n/a'} |"
    )


def summary(
    runs: Sequence[Run], processes: Sequence[int], trees: Sequence[str] = ("",)
) -> list[dict[str, Any]]:
    out = []
    for n, tree in [(n, tree) for n in processes for tree in trees]:
        mine = [r for r in runs if r.processes == n and r.tree == tree]
        entry: dict[str, Any] = {"processes": n, "tree": tree}
        for key in (
            "steps_per_s",
            "serving_steps_per_s",
            "wall_s",
            "commits_per_step",
            "commits_per_execution",
        ):
            values = [v for r in mine if (v := getattr(r, key)) is not None]
            if not values:
                continue
            entry[key] = {
                "median": statistics.median(values),
                "min": min(values),
                "max": max(values),
            }
        out.append(entry)
    return out


def source_revision() -> str | None:
    """The commit of the Cadenza being measured, ``+dirty`` when its sources are edited.

    The engine under test is whatever ``import cadenza`` finds; in a shared
    checkout it can change between runs, so the results say which one it was.
    """
    package = Path(cadenza_package.__file__).resolve().parent

    def git(*args: str) -> str | None:
        done = subprocess.run(["git", *args], cwd=package, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else None

    revision = git("rev-parse", "--short", "HEAD")
    if revision is None:
        return None
    return revision + ("+dirty" if git("status", "--porcelain", "--", ".") else "")


def machine(admin: psycopg.Connection[Any]) -> dict[str, Any]:
    row = admin.execute("SHOW server_version").fetchone()
    return {
        "cadenza_revision": source_revision(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "postgresql": row[0] if row else None,
        "platform": platform.platform(),
    }


# --- command line ---------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--store-url", default=DEFAULT_URL, help="server to create databases on")
    p.add_argument("--executions", type=int, help="executions per run (default 500)")
    p.add_argument("--steps", type=int, help="sequential steps per workflow (default 10)")
    p.add_argument("--repeat", type=int, help="runs per configuration (default 3)")
    p.add_argument("--processes", default="1,2,4", help="worker-process counts, comma-separated")
    p.add_argument("--concurrency", type=int, default=8, help="activity threads per worker")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per run")
    p.add_argument("--quick", action="store_true", help="a small smoke run")
    p.add_argument("--json", action="store_true", help="print results as JSON")
    p.add_argument(
        "--tree",
        action="append",
        default=[],
        metavar="LABEL=SRC",
        help="run the workers from these sources (a src directory); repeat to compare",
    )
    args = p.parse_args(argv)
    args.trees = [tuple(t.split("=", 1)) for t in args.tree] or [("", None)]
    if any(len(t) != 2 for t in args.trees):
        p.error("--tree takes LABEL=SRC")
    defaults = QUICK if args.quick else {"executions": 500, "steps": 10, "repeat": 3}
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.process_counts = [int(n) for n in args.processes.split(",") if n.strip()]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    labels = tuple(label for label, _source in args.trees)
    compile_sources(*(source for _label, source in args.trees if source))
    runs: list[Run] = []
    with admin_connection(args.store_url) as admin:
        about = machine(admin)
        for repeat in range(args.repeat):
            # Interleave the configurations so a slow spell on the machine
            # spreads over all of them instead of skewing one.
            for n, tree in [(n, tree) for n in args.process_counts for tree in args.trees]:
                run = one_run(admin, args.store_url, args, n, tree)
                runs.append(run)
                print(
                    f"run {repeat + 1}/{args.repeat} N={n}{' ' + run.tree if run.tree else ''}: "
                    f"{run.steps_per_s:.0f} steps/s "
                    f"({run.serving_steps_per_s or 0:.0f} all serving), "
                    f"{run.wall_s:.2f} s, {run.commits_per_step:.2f} commits/step",
                    file=sys.stderr,
                    flush=True,
                )
    if args.json:
        document = {
            "machine": about,
            "config": {
                "executions": args.executions,
                "steps": args.steps,
                "repeat": args.repeat,
                "concurrency": args.concurrency,
            },
            "summary": summary(runs, args.process_counts, labels),
            "runs": [r.to_dict() for r in runs],
        }
        print(json.dumps(document, indent=2))
    else:
        print(
            f"{args.executions} executions x {args.steps} steps, "
            f"--concurrency {args.concurrency}, {args.repeat} runs each: median (min-max)"
        )
        print(table(runs, args.process_counts, labels))
    return 0


if __name__ == "__main__":
    sys.exit(main())
