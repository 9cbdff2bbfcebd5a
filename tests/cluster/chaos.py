"""Helpers for the cluster tests: the workflow, real ``cadenza`` processes, the checks.

Nothing here is mocked. ``Cluster`` starts ``cadenza server`` and ``cadenza
worker`` processes (``python -m cadenza``) on one store, kills them with
SIGKILL and starts replacements; ``verify`` then reads every execution's row
and history from the store and the side-effect file the activities append to
(see ``activities.py``), and checks them against what the workflow must do.

Waiting is always polling with a deadline, never a bare sleep.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cadenza.model.errors import StoreError
from cadenza.model.events import (
    ExecutionCompleted,
    TaskAttemptFailed,
    TaskCompleted,
    TaskScheduled,
)
from cadenza.model.retry import WORKER_LOST
from cadenza.store.protocol import Store

from .activities import MARKS_ENV, WORK_ENV

#: The repository root: put on ``PYTHONPATH`` so ``tests.cluster.activities`` imports.
REPO_ROOT = Path(__file__).resolve().parents[2]
ACTIVITIES = "tests.cluster.activities:register"
UNFINISHED = ("requested", "running", "pausing", "resuming", "canceling")

#: Parallel branches after ``init`` (``left`` and ``right``), ``left`` retried by
#: Orquesta ``retry`` when its first run fails (deterministically, by input),
#: ``right`` a with-items task of three items, and ``join`` a join of both.
WORKFLOW = """\
version: 1.0
input:
  - n
  - fail_first
tasks:
  init:
    action: chaos.step
    input:
      n: <% ctx(n) %>
      label: init
    next:
      - when: <% succeeded() %>
        publish:
          - base: <% result().value %>
        do: [left, right]
  left:
    action: chaos.flaky
    input:
      n: <% ctx(n) %>
      fail_first: <% ctx(fail_first) %>
    retry:
      count: 1
    next:
      - when: <% succeeded() %>
        publish:
          - flaky: <% result() %>
        do: join
  right:
    with: i in <% list(range(3)) %>
    action: chaos.item
    input:
      n: <% ctx(n) %>
      i: <% item(i) %>
    next:
      - when: <% succeeded() %>
        publish:
          - items: <% result() %>
        do: join
  join:
    join: all
    action: chaos.step
    input:
      n: <% ctx(n) %>
      label: join
    next:
      - when: <% succeeded() %>
        publish:
          - final: <% result().value %>
output:
  - n: <% ctx(n) %>
  - base: <% ctx(base) %>
  - flaky: <% ctx(flaky) %>
  - items: <% ctx(items) %>
  - final: <% ctx(final) %>
"""


def workflow_input(n: int) -> dict[str, Any]:
    """Every third execution's ``left`` fails its first run and is retried."""
    return {"n": n, "fail_first": n % 3 == 0}


def expected_output(n: int) -> dict[str, Any]:
    return {
        "n": n,
        "base": n * 10,
        "flaky": n + 1,
        "items": [n * 100, n * 100 + 1, n * 100 + 2],
        "final": n * 10,
    }


def expected_tasks(n: int) -> set[str]:
    """The task ids history must schedule (``<task>.<route>.<run>[.<item>]``)."""
    tasks = {"init.0.0", "left.0.0", "right.0.0.0", "right.0.0.1", "right.0.0.2", "join.0.0"}
    if workflow_input(n)["fail_first"]:
        tasks.add("left.0.1")
    return tasks


# --- waiting ------------------------------------------------------------------------------


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, every: float = 0.1) -> None:
    """Poll ``predicate`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        if predicate():
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        pause.wait(every)


def unfinished_count(store: Store) -> int | None:
    """How many executions are not finished, or None if the store did not answer."""
    try:
        return len(store.list_executions(limit=100_000, statuses=UNFINISHED))
    except StoreError:
        return None


def drain(
    store: Store, cluster: Cluster, marks: Path, *, stall_timeout: float, timeout: float
) -> None:
    """Wait until no execution is unfinished.

    Fails when nothing moved (no execution finished, no activity wrote a side
    effect) for ``stall_timeout`` seconds -- a stuck execution or a dead
    cluster -- or when ``timeout`` passed in all. The stall bound is what
    derives from the lease; the overall one only caps a slow machine.
    """
    last: tuple[int | None, int] | None = None
    moved = time.monotonic()

    def finished() -> bool:
        nonlocal last, moved
        cluster.check_alive()
        left = unfinished_count(store)
        progress = (left, marks.stat().st_size if marks.exists() else 0)
        if progress != last:
            last, moved = progress, time.monotonic()
        elif time.monotonic() - moved > stall_timeout:
            raise AssertionError(
                f"no progress for {stall_timeout:.0f}s with {left} executions unfinished"
            )
        return left == 0

    wait_for(finished, timeout, "every execution to finish", every=0.2)


# --- processes ----------------------------------------------------------------------------


@dataclass
class Member:
    kind: str  # "server" or "worker"
    process: subprocess.Popen[bytes]
    log: Path


@dataclass
class Cluster:
    """Real ``cadenza server``/``worker`` processes on one store."""

    workdir: Path
    store_url: str
    marks: Path
    lease: float = 3.0
    concurrency: int = 4
    work_seconds: float = 0.02
    members: list[Member] = field(default_factory=list)
    killed: set[int] = field(default_factory=set)
    #: Kills of processes that were serving (the others were still starting up).
    killed_serving: int = 0
    started: int = 0
    #: (time.monotonic_ns(), what happened): starts and kills, for diagnosis.
    timeline: list[tuple[int, str]] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        path = os.environ.get("PYTHONPATH")
        return {
            **os.environ,
            "PYTHONPATH": str(REPO_ROOT) + (os.pathsep + path if path else ""),
            "CADENZA_STORE": self.store_url,
            MARKS_ENV: str(self.marks),
            WORK_ENV: str(self.work_seconds),
            "PYTHONUNBUFFERED": "1",
        }

    def start(self, kind: str) -> Member:
        """Start one ``cadenza server`` or ``cadenza worker`` process."""
        self.started += 1
        log = self.workdir / f"{kind}-{self.started}.log"
        command = [
            sys.executable,
            "-m",
            "cadenza",
            kind,
            "--activities",
            ACTIVITIES,
            "--lease",
            str(self.lease),
            "--concurrency",
            str(self.concurrency),
            # Servers also serve the HTTP API: each on a port of its own.
            *(["--bind", "127.0.0.1:0"] if kind == "server" else []),
        ]
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                cwd=self.workdir,
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        member = Member(kind, process, log)
        self.members.append(member)
        self.timeline.append((time.monotonic_ns(), f"started {kind} pid {process.pid}"))
        return member

    def live(self) -> list[Member]:
        return [m for m in self.members if m.process.pid not in self.killed]

    def check_alive(self) -> None:
        """Fail if a process that was not killed has exited on its own."""
        for member in self.live():
            code = member.process.poll()
            if code is not None:
                raise AssertionError(
                    f"{member.kind} pid {member.process.pid} exited by itself with {code}:\n"
                    + tail(member.log)
                )

    @staticmethod
    def serving(member: Member) -> bool:
        """Whether ``member`` has started serving (it prints that once it is ready)."""
        return b"serving queues" in member.log.read_bytes()

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until every live process has said it is serving."""

        def ready() -> bool:
            self.check_alive()
            return all(self.serving(m) for m in self.live())

        wait_for(ready, timeout, "the cluster processes to start serving", every=0.05)

    def kill_one(self, rng: random.Random) -> Member:
        """SIGKILL a random live process, start a replacement of its kind; return the victim.

        The victim is drawn from the processes that are serving when there are
        any: a replacement takes seconds to start on a busy 2-core machine, and
        killing mostly processes that are still importing would rarely land a
        kill in the middle of a decision or an activity.
        """
        serving = [m for m in self.live() if self.serving(m)]
        victim = rng.choice(serving or self.live())
        self.killed.add(victim.process.pid)
        was_serving = bool(serving)
        self.killed_serving += int(was_serving)
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(timeout=10)
        self.timeline.append(
            (time.monotonic_ns(), f"killed {victim.kind} pid {victim.process.pid}")
        )
        self.start(victim.kind)
        return victim

    def chaos(self, seconds: float, every: float, rng: random.Random) -> int:
        """Kill a random process about every ``every`` seconds for ``seconds``; return kills."""
        pause = threading.Event()
        begin = time.monotonic()
        kills = 0
        next_kill = begin + every
        while time.monotonic() < begin + seconds:
            self.check_alive()
            if time.monotonic() >= next_kill:
                self.kill_one(rng)
                kills += 1
                next_kill += every
            pause.wait(0.02)
        return kills

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM every live process and wait for it; SIGKILL any that lingers."""
        for member in self.live():
            if member.process.poll() is None:
                member.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for member in self.members:
            try:
                member.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                member.process.kill()
                member.process.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(f"--- {m.log.name} ---\n{tail(m.log)}" for m in self.members)


def tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# --- executions ---------------------------------------------------------------------------


def start_executions(store_url: str, count: int) -> dict[str, int]:
    """Register the workflow and start ``count`` executions; return id -> n.

    Uses the Python API without serving: the cluster processes run them.
    """
    from cadenza.engine.engine import Engine

    engine = Engine(store_url)
    try:
        definition = engine.register(WORKFLOW, name="chaos")
        return {engine.start(definition, workflow_input(n)): n for n in range(count)}
    finally:
        engine.close()


# --- checks -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mark:
    phase: str
    execution_id: str
    task_id: str
    attempt: int
    pid: int
    ns: int  # time.monotonic_ns() when written (the same clock as Cluster.timeline)


def read_marks(path: Path) -> list[Mark]:
    marks: list[Mark] = []
    if not path.exists():
        return marks
    for line in path.read_text().splitlines():
        phase, execution_id, task_id, attempt, pid, ns = line.split("\t")
        marks.append(Mark(phase, execution_id, task_id, int(attempt), int(pid), int(ns)))
    return marks


@dataclass
class Summary:
    executions: int = 0
    tasks: int = 0
    side_effects: int = 0
    reruns: int = 0  # attempts whose side effect ran again after a kill
    lost_attempts: int = 0  # TaskAttemptFailed (worker.lost) in history
    orquesta_retries: int = 0

    def line(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.__dict__.items())


_OWNER = re.compile(r"the worker (\S+) stopped holding its lease")


def verify(
    store: Store,
    executions: Mapping[str, int],
    marks: Sequence[Mark],
    killed: set[int],
    *,
    lost_owner_must_be_killed: bool = True,
) -> Summary:
    """Check every execution's outcome, history and side effects.

    * the execution ``succeeded`` with the expected output and errors;
    * its history has seq 1..N, schedules exactly the expected tasks once each,
      completes each of them exactly once, and completes the execution once;
    * every kernel re-attempt (``TaskAttemptFailed``) is a lost worker, and with
      ``lost_owner_must_be_killed`` that worker is a process the test killed;
    * the attempt that completed a task ran its side effect exactly once
      (start and end), and any other run of that task's side effect was an
      earlier attempt recorded as lost -- in a killed process when
      ``lost_owner_must_be_killed``.
    """
    summary = Summary(executions=len(executions))
    starts: dict[tuple[str, str], list[Mark]] = defaultdict(list)
    ends: Counter[tuple[str, str, int]] = Counter()
    for mark in marks:
        if mark.phase == "start":
            starts[(mark.execution_id, mark.task_id)].append(mark)
        else:
            ends[(mark.execution_id, mark.task_id, mark.attempt)] += 1
    summary.side_effects = sum(len(v) for v in starts.values())
    problems: list[str] = []
    for execution_id, n in executions.items():
        problems += _verify_one(
            store, execution_id, n, starts, ends, killed, lost_owner_must_be_killed, summary
        )
    unknown = {key for key in starts if key[0] not in executions}
    if unknown:
        problems.append(f"side effects of unknown executions: {sorted(unknown)[:5]}")
    if problems:
        shown = "\n".join(problems[:30])
        raise AssertionError(f"{len(problems)} problems:\n{shown}")
    return summary


def _verify_one(
    store: Store,
    execution_id: str,
    n: int,
    starts: Mapping[tuple[str, str], list[Mark]],
    ends: Counter[tuple[str, str, int]],
    killed: set[int],
    lost_owner_must_be_killed: bool,
    summary: Summary,
) -> list[str]:
    where = f"execution {execution_id} (n={n})"
    record = store.load_execution(execution_id)
    if record.status != "succeeded" or record.output != expected_output(n):
        return [f"{where}: {record.status} {json.dumps(record.output)} {record.errors}"]
    problems: list[str] = []
    fail_first = workflow_input(n)["fail_first"]
    failed_tasks = sorted(str(e.get("task_id")) for e in record.errors if isinstance(e, dict))
    if failed_tasks != (["left"] if fail_first else []):
        problems.append(f"{where}: unexpected errors {record.errors}")

    history = store.read_history(execution_id)
    seqs = [e.seq for e in history]
    if seqs != list(range(1, len(history) + 1)):
        problems.append(f"{where}: history seq is not contiguous: {seqs}")
    events = [e.event for e in history]
    scheduled = Counter(e.task_id for e in events if isinstance(e, TaskScheduled))
    completed = Counter(e.task_id for e in events if isinstance(e, TaskCompleted))
    completions = [e for e in events if isinstance(e, ExecutionCompleted)]
    if any(v > 1 for v in scheduled.values()):
        problems.append(f"{where}: a task was scheduled twice: {scheduled}")
    if any(v > 1 for v in completed.values()):
        problems.append(f"{where}: a task was completed twice: {completed}")
    if set(completed) != set(scheduled) or set(scheduled) != expected_tasks(n):
        problems.append(
            f"{where}: scheduled {sorted(scheduled)} completed {sorted(completed)}, "
            f"expected {sorted(expected_tasks(n))}"
        )
    if len(completions) != 1 or not isinstance(events[-1], ExecutionCompleted):
        problems.append(f"{where}: {len(completions)} ExecutionCompleted, last {events[-1]}")
    summary.tasks += len(scheduled)
    summary.orquesta_retries += int(fail_first)

    lost: dict[tuple[str, int], int] = {}  # (task_id, attempt) -> pid of the lost owner
    for event in events:
        if not isinstance(event, TaskAttemptFailed):
            continue
        summary.lost_attempts += 1
        error = event.error if isinstance(event.error, dict) else {}
        match = _OWNER.search(str(error.get("message", "")))
        if error.get("type") != WORKER_LOST or match is None:
            problems.append(f"{where}: unexpected attempt failure {event}")
            continue
        owner_pid = int(match.group(1).split(":")[1])
        lost[(event.task_id, event.attempt)] = owner_pid
        if lost_owner_must_be_killed and owner_pid not in killed:
            problems.append(
                f"{where}: {event.task_id} attempt {event.attempt} was declared lost, "
                f"but its process {owner_pid} was never killed"
            )

    for event in events:
        if not isinstance(event, TaskCompleted):
            continue
        task_id, attempt = event.task_id, event.attempt
        runs = starts.get((execution_id, task_id), [])
        attempts = Counter(m.attempt for m in runs)
        ended = ends[(execution_id, task_id, attempt)]
        if any(count > 1 for count in attempts.values()):
            problems.append(f"{where}: {task_id}: one attempt ran twice: {dict(attempts)}")
        if attempts[attempt] != 1 or ended != 1:
            problems.append(
                f"{where}: {task_id} was completed by attempt {attempt}, whose side effect "
                f"started {attempts[attempt]} and ended {ended} times"
            )
        for mark in runs:
            if mark.attempt == attempt:
                continue
            summary.reruns += 1
            owner = lost.get((task_id, mark.attempt))
            if mark.attempt > attempt or owner != mark.pid:
                problems.append(
                    f"{where}: {task_id} attempt {mark.attempt} ran in pid {mark.pid}, but "
                    f"attempt {attempt} completed the task and history does not record "
                    f"attempt {mark.attempt} as lost by that process"
                )
            elif lost_owner_must_be_killed and mark.pid not in killed:
                problems.append(
                    f"{where}: {task_id} attempt {mark.attempt} ran again after pid {mark.pid} "
                    "lost it, but that process was never killed"
                )
    return problems


def activity_timeline(marks: Sequence[Mark], cluster: Cluster) -> str:
    """Per second: attempts started and ended, and the cluster's starts and kills."""
    if not marks:
        return "(no side effects)"
    origin = min(min(m.ns for m in marks), min(t for t, _ in cluster.timeline or [(0, "")]))
    per_second: dict[int, list[str]] = defaultdict(list)
    starts: Counter[int] = Counter(((m.ns - origin) // 10**9) for m in marks if m.phase == "start")
    ends: Counter[int] = Counter(((m.ns - origin) // 10**9) for m in marks if m.phase == "end")
    for t, what in cluster.timeline:
        per_second[(t - origin) // 10**9].append(what)
    last = max(max(starts, default=0), max(ends, default=0), max(per_second, default=0))
    return "\n".join(
        f"{second:4d}s starts={starts[second]:4d} ends={ends[second]:4d} "
        + "; ".join(per_second[second])
        for second in range(last + 1)
    )


@dataclass
class ChaosReport:
    kills: int
    kills_of_serving: int
    processes_started: int
    unfinished_after_chaos: int | None
    summary: Summary
    seconds: dict[str, float]

    def line(self, label: str) -> str:
        times = " ".join(f"{k}={v:.1f}s" for k, v in self.seconds.items())
        return (
            f"{label}: kills={self.kills} (of serving processes: {self.kills_of_serving}) "
            f"processes_started={self.processes_started} "
            f"unfinished_after_chaos={self.unfinished_after_chaos} {self.summary.line()} {times}"
        )


def run_chaos(
    workdir: Path,
    store_url: str,
    *,
    servers: int,
    workers: int,
    executions: int,
    chaos_seconds: float,
    kill_every: float = 1.0,
    lease: float = 3.0,
    concurrency: int = 4,
    drain_timeout: float,
) -> ChaosReport:
    """Start the cluster and the executions, kill processes for ``chaos_seconds``,
    wait (up to ``drain_timeout``) for every execution to finish, and verify."""
    from cadenza.store import open_store

    began = time.monotonic()
    marks_path = workdir / "marks.tsv"
    cluster = Cluster(workdir, store_url, marks_path, lease=lease, concurrency=concurrency)
    seed = time.time_ns()
    rng = random.Random(seed)
    # Opening the store here creates (SQLite) or checks (PostgreSQL) its schema
    # before any process starts.
    store = open_store(store_url)
    try:
        # The executions first: creating them while 5 processes start up on 2
        # cores takes several times longer, and the chaos should begin with all
        # of them pending.
        started = start_executions(store_url, executions)
        created = time.monotonic()
        for _ in range(servers):
            cluster.start("server")
        for _ in range(workers):
            cluster.start("worker")
        cluster.wait_ready()
        chaos_began = time.monotonic()
        kills = cluster.chaos(chaos_seconds, kill_every, rng)
        chaos_ended = time.monotonic()
        left = unfinished_count(store)

        drain(store, cluster, marks_path, stall_timeout=lease * 5 + 15, timeout=drain_timeout)
        drained = time.monotonic()
        summary = verify(store, started, read_marks(marks_path), cluster.killed)
    except BaseException:
        print(f"random seed {seed}")
        print(activity_timeline(read_marks(marks_path), cluster))
        print(cluster.logs())
        raise
    finally:
        cluster.stop()
        store.close()
    print(activity_timeline(read_marks(marks_path), cluster))
    return ChaosReport(
        kills=kills,
        kills_of_serving=cluster.killed_serving,
        processes_started=cluster.started,
        unfinished_after_chaos=left,
        summary=summary,
        seconds={
            "create": created - began,
            "ready": chaos_began - created,
            "chaos": chaos_ended - chaos_began,
            "drain": drained - chaos_ended,
            "total": time.monotonic() - began,
        },
    )
