"""Cadenza against its peers (DBOS Transact, Prefect 3), every workload, one run.

    python bench/run.py                 # everything, full sizes, 3 repetitions
    python bench/run.py --quick         # small sizes, one repetition, < 1 min for Cadenza
    python bench/run.py --only W1,W3 --systems cadenza,dbos --json

Each measurement runs in a fresh subprocess on a fresh store (a new SQLite
file in a temporary directory, or a new PostgreSQL database that is dropped
afterwards). Cadenza runs with this interpreter; each peer runs with the
python of its own virtual environment, created and cached under
``bench/.peers/<peer>/`` from ``bench/peers/<peer>/requirements.txt``, so no
peer dependency enters Cadenza's environment. Workloads and how each system
runs them are described in bench/README.md ("Peers").
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
PEERS_SRC = BENCH / "peers"
PEERS_CACHE = BENCH / ".peers"
sys.path.insert(0, str(BENCH))

from workloads import orquesta  # noqa: E402
from workloads.bytecode import compile_sources  # noqa: E402

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
ALL_WORKLOADS = ("W1", "W2", "W3", "W4", "W5", "W6", "W7")


@dataclass(frozen=True)
class Sizes:
    w1_steps: int
    w2_width: int
    w3_runs: int
    w5_steps: int
    w5_kill_step: int
    w6_steps: tuple[int, ...]
    repeat: int
    #: Prefect's W3 size: its ephemeral server manages about one flow run per
    #: second here (load permitting), so 1,000 runs would take most of an hour.
    prefect_w3_runs: int = 30


FULL = Sizes(
    w1_steps=100,
    w2_width=1000,
    w3_runs=1000,
    w5_steps=20,
    w5_kill_step=11,
    w6_steps=(10, 100, 1000, 10000),
    repeat=3,
)
QUICK = Sizes(
    w1_steps=20,
    w2_width=50,
    w3_runs=50,
    w5_steps=8,
    w5_kill_step=4,
    w6_steps=(10, 50),
    repeat=1,
    prefect_w3_runs=10,
)
#: W6 sizes from this one up run once: one run is already minutes long.
W6_SINGLE_FROM = 1000
#: W5's step length and when, into the kill step, the process is killed.
W5_STEP_MS = 50.0
W5_KILL_AFTER_S = 0.025


# --- systems ------------------------------------------------------------------------------


@dataclass(frozen=True)
class System:
    """One system on one store, and how to run each kind of measurement on it."""

    name: str  # cadenza, cadenza-code, dbos, prefect
    store: str  # sqlite, postgres
    python: str
    #: In-process workloads (W1, W2, W3, W6): the script taking
    #: --workload/--size/--store-url and printing {"metrics": {...}}.
    script: Path
    #: W4: argv of a fresh process that runs one tiny workflow and exits.
    tiny: Callable[[str, Path], list[str]]
    #: W5: argv of the first process (to be killed) and of the recovering one.
    durable_first: Callable[[str, Path, Sizes], list[str]]
    durable_recover: Callable[[str, Path, Sizes], list[str]]

    #: The workload kinds it runs (None: all).
    kinds: tuple[str, ...] | None = None

    @property
    def label(self) -> str:
        return f"{self.name}/{self.store}"


#: Cadenza's code front end (a Python workflow replayed from history) runs the
#: sequential workloads, the shape DBOS's ``@DBOS.workflow`` with ``@DBOS.step``s has.
CODE_KINDS = ("W1", "W6")


def _cadenza_tiny(url: str, tmp: Path) -> list[str]:
    path = tmp / "tiny.yaml"
    path.write_text(orquesta.tiny())
    return [sys.executable, "-m", "cadenza", "run", str(path), "--quiet", "--store", url]


def _cadenza_first(url: str, tmp: Path, sizes: Sizes) -> list[str]:
    path = tmp / "durable.yaml"
    path.write_text(orquesta.slow_chain(sizes.w5_steps, W5_STEP_MS))
    return [
        sys.executable,
        "-m",
        "cadenza",
        "run",
        str(path),
        "--quiet",
        "--store",
        url,
        "--activities",
        "workloads.actions:register",
    ]


def _cadenza_recover(url: str, tmp: Path, sizes: Sizes) -> list[str]:
    # What an operator does after a crash: start a worker; it breaks the dead
    # process's leases (same host) and carries the execution on.
    return [
        sys.executable,
        "-m",
        "cadenza",
        "worker",
        "--exit-when-idle",
        "--store",
        url,
        "--activities",
        "workloads.actions:register",
    ]


def _peer_process(peer: str, script: str, extra: Sequence[str] = ()) -> Callable[..., list[str]]:
    def argv(url: str, tmp: Path, sizes: Sizes | None = None) -> list[str]:
        python = str(peer_python(peer))
        args = [python, str(PEERS_SRC / peer / script), "--store-url", url]
        if sizes is not None:
            args += ["--steps", str(sizes.w5_steps), "--step-ms", str(W5_STEP_MS)]
        return args + list(extra)

    return argv


def systems(names: Sequence[str], stores: Sequence[str]) -> list[System]:
    found: list[System] = []
    for name in names:
        for store in stores:
            if name == "prefect" and store != "sqlite":
                continue  # Prefect runs on its ephemeral local server only (its SQLite)
            if name in ("cadenza", "cadenza-code"):
                if name == "cadenza":
                    found.append(
                        System(
                            name,
                            store,
                            sys.executable,
                            BENCH / "workloads" / "cadenza_bench.py",
                            _cadenza_tiny,
                            _cadenza_first,
                            _cadenza_recover,
                        )
                    )
                found.append(
                    System(
                        "cadenza-code",
                        store,
                        sys.executable,
                        BENCH / "workloads" / "code_bench.py",
                        _cadenza_tiny,
                        _cadenza_first,
                        _cadenza_recover,
                        kinds=CODE_KINDS,
                    )
                )
            else:
                found.append(
                    System(
                        name,
                        store,
                        str(peer_python(name)),
                        PEERS_SRC / name / "bench.py",
                        _peer_process(name, "tiny.py"),
                        _peer_process(name, "durable.py", ["--phase", "first"]),
                        _peer_process(name, "durable.py", ["--phase", "recover"]),
                    )
                )
    return found


# --- peer environments ---------------------------------------------------------------------


def peer_python(peer: str) -> Path:
    return PEERS_CACHE / peer / "venv" / "bin" / "python"


def ensure_peer_env(peer: str, log: Callable[[str], None]) -> None:
    """Create (once) the peer's virtual environment from its requirements file.

    The cache key is the requirements text: change the pins and the next run
    rebuilds the environment.
    """
    requirements = PEERS_SRC / peer / "requirements.txt"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:16]
    home = PEERS_CACHE / peer
    marker = home / f"ready-{digest}"
    if marker.exists() and peer_python(peer).exists():
        return
    log(f"creating the {peer} environment under {home} (once) ...")
    if (home / "venv").exists():
        subprocess.run(["rm", "-rf", str(home / "venv")], check=True)
    home.mkdir(parents=True, exist_ok=True)
    for old in home.glob("ready-*"):
        old.unlink()
    subprocess.run([sys.executable, "-m", "venv", str(home / "venv")], check=True)
    pip = [str(peer_python(peer)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(requirements)], check=True)
    marker.write_text(digest + "\n")


def peer_versions(peer: str) -> str:
    out = subprocess.run(
        [
            str(peer_python(peer)),
            "-c",
            f"import importlib.metadata as m; print(m.version({peer!r}))",
        ],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() or "?"


# --- stores ------------------------------------------------------------------------------


@contextmanager
def fresh_store(kind: str, pg_url: str, system: str) -> Iterator[str]:
    """A store URL nobody has used: a file in a new temp dir, or a new database."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix=f"bench-{system}-") as tmp:
            yield f"sqlite:///{tmp}/store.db"
        return
    import psycopg

    name = f"bench_{system}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_dbname(pg_url, name)
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _with_dbname(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def pg_version(pg_url: str) -> str:
    try:
        import psycopg

        with psycopg.connect(pg_url, autocommit=True) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "?"
    except Exception as exc:
        return f"unavailable ({exc.__class__.__name__})"


# --- measurements ---------------------------------------------------------------------------


class MeasurementFailed(Exception):
    pass


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    # bench/ on the path: Cadenza's CLI imports workloads.actions from it.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BENCH), env.get("PYTHONPATH")]))
    # Peers keep their home-directory state (Prefect's profile and database)
    # inside the measurement's temp dir, so every run starts from nothing.
    env["PREFECT_HOME"] = str(tmp / "prefect-home")
    env["HOME"] = str(tmp)
    # Cadenza's per-user cache (the YAQL parser's tables) outlives a process, as a
    # user's does: only the first measurement on a machine builds it. It lives in
    # bench/.peers/, which git ignores, not in the throw-away HOME above.
    env.setdefault("XDG_CACHE_HOME", str(PEERS_CACHE / "user-cache"))
    env.pop("CADENZA_STORE", None)
    return env


def in_process(
    system: System, workload: str, size: int, url: str, timeout: float
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        argv = [
            system.python,
            str(system.script),
            "--workload",
            workload,
            "--size",
            str(size),
            "--store-url",
            url,
        ]
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=_env(Path(tmp)),
                cwd=tmp,
            )
        except subprocess.TimeoutExpired as exc:
            raise MeasurementFailed(f"timed out after {timeout:.0f} s") from exc
    if done.returncode != 0:
        raise MeasurementFailed(_tail(done.stderr) or f"exit {done.returncode}")
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            return dict(json.loads(line)["metrics"])
    raise MeasurementFailed("no JSON result: " + _tail(done.stdout + done.stderr))


def _tail(text: str, lines: int = 6) -> str:
    return " | ".join(text.strip().splitlines()[-lines:])


class TreeSampler:
    """Peak resident memory of a process session (the process and everything it
    started, e.g. Prefect's server), summed, sampled from /proc every 5 ms."""

    def __init__(self, sid: int) -> None:
        self.sid = sid
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit():
                    continue
                try:
                    stat = Path(entry.path, "stat").read_text()
                    fields = stat.rsplit(")", 1)[1].split()
                    if int(fields[3]) != self.sid:  # field 6: session id
                        continue
                    for line in Path(entry.path, "status").read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
                            break
                except (OSError, IndexError, ValueError):
                    continue
            self.peak_kib = max(self.peak_kib, total)
            self._stop.wait(0.005)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak_kib


def _kill_session(proc: subprocess.Popen[Any]) -> None:
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def startup(system: System, url: str, timeout: float) -> dict[str, Any]:
    """W4: exec → first tiny run completed (process exit), and peak tree RSS."""
    with tempfile.TemporaryDirectory(prefix="bench-w4-") as tmp:
        argv = system.tiny(url, Path(tmp))
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_env(Path(tmp)),
            cwd=tmp,
            start_new_session=True,
        )
        sampler = TreeSampler(proc.pid)
        try:
            _out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            _kill_session(proc)
            sampler.stop()
            raise MeasurementFailed(f"timed out after {timeout:.0f} s") from exc
        wall = time.perf_counter() - t0
        peak = sampler.stop()
        _kill_session(proc)  # anything it left behind (a server subprocess)
    if proc.returncode != 0:
        raise MeasurementFailed(_tail(err.decode(errors="replace")) or f"exit {proc.returncode}")
    return {"startup_s": wall, "peak_rss_mb": peak / 1024}


def _read_log(path: Path) -> list[tuple[str, int, float, int]]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 4:
            rows.append((parts[0], int(parts[1]), float(parts[2]), int(parts[3])))
    return rows


def durability(system: System, url: str, sizes: Sizes, timeout: float) -> dict[str, Any]:
    """W5: kill 25 ms into the kill step, restart, time the recovery, count re-runs."""
    with tempfile.TemporaryDirectory(prefix="bench-w5-") as tmp_name:
        tmp = Path(tmp_name)
        log = tmp / "steps.log"
        env = _env(tmp)
        env["BENCH_STEP_LOG"] = str(log)
        first = subprocess.Popen(
            system.durable_first(url, tmp, sizes),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            cwd=tmp,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        kill_at: float | None = None
        while kill_at is None:
            if first.poll() is not None:
                err = first.stderr.read().decode(errors="replace") if first.stderr else ""
                raise MeasurementFailed(f"first process ended early: {_tail(err)}")
            if time.monotonic() > deadline:
                _kill_session(first)
                raise MeasurementFailed("the kill step never started")
            for what, index, ts, _pid in _read_log(log):
                if what == "start" and index == sizes.w5_kill_step:
                    kill_at = ts + W5_KILL_AFTER_S
            time.sleep(0.001)
        time.sleep(max(0.0, kill_at - time.time()))
        _kill_session(first)  # SIGKILL the whole session: no cleanup of any kind
        first.wait()
        before = _read_log(log)
        killed_in = [i for what, i, _, _ in before if what == "start"]
        finished_before = {i for what, i, _, _ in before if what == "end"}

        restart = time.time()
        second = subprocess.Popen(
            system.durable_recover(url, tmp, sizes),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            cwd=tmp,
            start_new_session=True,
        )
        try:
            _, err_b = second.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            _kill_session(second)
            raise MeasurementFailed(f"recovery timed out after {timeout:.0f} s") from exc
        done = time.time() - restart
        _kill_session(second)
        if second.returncode != 0:
            raise MeasurementFailed(f"recovery failed: {_tail(err_b.decode(errors='replace'))}")
        after = _read_log(log)[len(before) :]
        starts = [(i, ts) for what, i, ts, _ in after if what == "start"]
        ends = {i for what, i, _, _ in after if what == "end"}
        missing = set(range(1, sizes.w5_steps + 1)) - (finished_before | ends)
        if missing:
            raise MeasurementFailed(f"steps never completed: {sorted(missing)}")
        if not starts:
            raise MeasurementFailed("the recovering process ran no step")
    return {
        "restart_to_first_step_s": starts[0][1] - restart,
        "restart_to_done_s": done,
        "steps_rerun": sum(1 for i, _ in starts if i in set(killed_in)),
        "completed_steps_rerun": sum(1 for i, _ in starts if i in finished_before),
    }


# --- results -----------------------------------------------------------------------------------


@dataclass
class Cell:
    """All repetitions of one measurement of one system on one store."""

    workload: str
    system: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def values(self, metric: str) -> list[float]:
        return [float(r[metric]) for r in self.runs if metric in r]


#: The metrics shown per workload, whether lower is better, and the unit.
METRICS: dict[str, list[tuple[str, bool, str]]] = {
    "W1": [("wall_s", True, "s"), ("per_step_ms", True, "ms")],
    "W2": [("wall_s", True, "s")],
    "W3": [("runs_per_s", False, "runs/s"), ("steps_per_s", False, "steps/s")],
    "W4": [("startup_s", True, "s"), ("peak_rss_mb", True, "MB")],
    "W5": [
        ("restart_to_first_step_s", True, "s"),
        ("restart_to_done_s", True, "s"),
        ("steps_rerun", True, "steps"),
        ("completed_steps_rerun", True, "steps"),
    ],
    "W6": [("per_step_ms", True, "ms"), ("warm_per_step_ms", True, "ms")],
    "W7": [("commits_per_step", True, "commits"), ("xact_per_step", True, "xact")],
}


def _summary(values: list[float]) -> tuple[float, float, float] | None:
    if not values:
        return None
    return statistics.median(values), min(values), max(values)


def _fmt(x: float) -> str:
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    if abs(x) >= 0.1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def rows(cells: list[Cell]) -> list[tuple[str, ...]]:
    """(workload, metric, system/store, median [min-max], n, Cadenza/peer,
    code/peer, size) per metric; the ratios compare Cadenza (Orquesta, and the
    code front end) with the peer on the same store (SQLite for Prefect)."""
    by_key = {(c.workload, c.system): c for c in cells}
    found: list[tuple[str, ...]] = []
    workloads: list[str] = []
    for c in cells:
        if c.workload not in workloads:
            workloads.append(c.workload)
    for w in workloads:
        base = w.split("/")[0]
        group = [c for c in cells if c.workload == w]
        for metric, _lower, unit in METRICS.get(base, []):
            for c in group:
                s = _summary(c.values(metric))
                if s is None:
                    if c.errors and metric == METRICS[base][0][0]:
                        found.append((w, metric, c.system, f"failed: {c.errors[-1][:70]}"))
                    continue
                med, lo, hi = s
                ratios = []
                for ours_name in ("cadenza", "cadenza-code"):
                    ratio = ""
                    if not c.system.startswith("cadenza"):
                        store = c.system.split("/")[1]
                        ours = by_key.get((w, f"{ours_name}/{store}"))
                        mine = _summary(ours.values(metric)) if ours else None
                        if mine and med:
                            ratio = f"{mine[0] / med:.2f}"
                    ratios.append(ratio)
                spread = f"{_fmt(med)} [{_fmt(lo)}-{_fmt(hi)}] {unit}"
                used = ",".join(sorted({str(r["size"]) for r in c.runs if "size" in r}))
                n = str(len(c.values(metric)))
                found.append((w, metric, c.system, spread, n, *ratios, used))
    return found


HEADER = (
    "workload",
    "metric",
    "system/store",
    "median [min-max]",
    "n",
    "cadenza/peer",
    "code/peer",
    "size",
)


def table(cells: list[Cell]) -> str:
    """The results as aligned text."""
    widths = (10, 26, 22, 28, 2, 12, 9, 5)
    lines = ["  ".join(h.ljust(wd) for h, wd in zip(HEADER, widths, strict=True))]
    lines.append("-" * len(lines[0]))
    for row in rows(cells):
        lines.append("  ".join(v.ljust(wd) for v, wd in zip(row, widths, strict=False)))
    return "\n".join(lines)


def markdown(cells: list[Cell]) -> str:
    """The results as a Markdown table (for bench/README.md)."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for row in rows(cells):
        cols = list(row) + [""] * (len(HEADER) - len(row))
        lines.append("| " + " | ".join(cols) + " |")
    return "\n".join(lines)


def load_cells(paths: Sequence[str]) -> tuple[list[Cell], dict[str, Any]]:
    """Cells and metadata from files written by --save (merged in order)."""
    cells: list[Cell] = []
    meta: dict[str, Any] = {}
    for path in paths:
        doc = json.loads(Path(path).read_text())
        meta = {**doc["meta"], **meta}
        for r in doc["results"]:
            cells.append(Cell(r["workload"], r["system"], r["runs"], r["errors"]))
    return cells, meta


# --- driver ------------------------------------------------------------------------------------


def plan(workloads: Sequence[str], sizes: Sizes) -> list[tuple[str, str, int]]:
    """(result key, workload kind, size) in the order they run."""
    steps: list[tuple[str, str, int]] = []
    for w in workloads:
        if w == "W1":
            steps.append(("W1", "W1", sizes.w1_steps))
        elif w == "W2":
            steps.append(("W2", "W2", sizes.w2_width))
        elif w == "W3":
            steps.append(("W3", "W3", sizes.w3_runs))
        elif w == "W4":
            steps.append(("W4", "W4", 1))
        elif w == "W5":
            steps.append(("W5", "W5", sizes.w5_steps))
        elif w == "W6":
            steps += [(f"W6/{n}", "W6", n) for n in sizes.w6_steps]
    return steps


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repetition")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--only", help="workloads, e.g. W1,W3 (W7 comes from W1 and W3)")
    parser.add_argument("--systems", default="cadenza,dbos,prefect")
    parser.add_argument(
        "--stores", help="sqlite,postgres (default both; --quick: sqlite, to stay near a minute)"
    )
    parser.add_argument("--repeat", type=int, help="repetitions (default 3; 1 with --quick)")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG))
    parser.add_argument("--timeout", type=float, default=1200.0, help="per measurement, s")
    parser.add_argument("--w6-steps", help="W6 sizes, comma-separated (default 10,100,1000,10000)")
    parser.add_argument("--w2-width", type=int, help="W2 fan-out width (default 1000)")
    parser.add_argument("--w3-runs", type=int, help="W3 runs (default 1000)")
    parser.add_argument("--save", metavar="FILE", help="also write the JSON results to FILE")
    parser.add_argument(
        "--from",
        dest="from_files",
        metavar="FILE[,FILE]",
        help="print the table of results saved with --save instead of running",
    )
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    if args.from_files:
        cells_loaded, meta_loaded = load_cells(args.from_files.split(","))
        print(_meta_lines(meta_loaded))
        print(markdown(cells_loaded) if args.markdown else table(cells_loaded))
        return 0

    compile_sources()
    sizes = QUICK if args.quick else FULL
    if args.repeat:
        sizes = Sizes(**{**sizes.__dict__, "repeat": args.repeat})
    if args.w6_steps:
        sizes = Sizes(
            **{**sizes.__dict__, "w6_steps": tuple(int(n) for n in args.w6_steps.split(","))}
        )
    if args.w2_width:
        sizes = Sizes(**{**sizes.__dict__, "w2_width": args.w2_width})
    if args.w3_runs:
        sizes = Sizes(**{**sizes.__dict__, "w3_runs": args.w3_runs})
    wanted = [w.strip().upper() for w in (args.only or ",".join(ALL_WORKLOADS)).split(",")]
    unknown = set(wanted) - set(ALL_WORKLOADS)
    if unknown:
        parser.error(f"unknown workloads: {sorted(unknown)}")
    if "W7" in wanted:
        # W7 is read off the W1 and W3 runs (their commit counters).
        wanted += [w for w in ("W1", "W3") if w not in wanted]
    names = [s.strip() for s in args.systems.split(",") if s.strip()]
    store_list = args.stores or ("sqlite" if args.quick else "sqlite,postgres")
    stores = [s.strip() for s in store_list.split(",") if s.strip()]

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    for peer in names:
        if not peer.startswith("cadenza"):
            ensure_peer_env(peer, say)
    chosen = systems(names, stores)
    cells: dict[tuple[str, str], Cell] = {}
    started = time.time()
    gave_up: set[str] = set()  # systems that timed out on a smaller W6 size
    for key, kind, size in plan([w for w in ALL_WORKLOADS if w in wanted and w != "W7"], sizes):
        repeat = 1 if kind == "W6" and size >= W6_SINGLE_FROM else sizes.repeat
        for rep in range(repeat):
            for system in chosen:
                if system.kinds is not None and kind not in system.kinds:
                    continue
                cell = cells.setdefault((key, system.label), Cell(key, system.label))
                if kind == "W6" and system.label in gave_up:
                    if rep == 0:
                        cell.errors.append("skipped: a smaller size already timed out")
                    continue
                n = size
                if kind == "W3" and system.name == "prefect":
                    n = min(size, sizes.prefect_w3_runs)
                t = time.perf_counter()
                try:
                    with fresh_store(system.store, args.pg_url, system.name) as url:
                        if kind == "W4":
                            result = startup(system, url, args.timeout)
                        elif kind == "W5":
                            result = durability(system, url, sizes, args.timeout)
                        else:
                            result = in_process(system, kind, n, url, args.timeout)
                            result["size"] = n
                    cell.runs.append(result)
                    status = "ok"
                except MeasurementFailed as exc:
                    cell.errors.append(str(exc))
                    status = f"FAILED: {exc}"
                    if kind == "W6" and "timed out" in str(exc):
                        gave_up.add(system.label)
                say(
                    f"[{time.time() - started:6.0f}s] {key:<8} rep {rep + 1}/{repeat} "
                    f"{system.label:<21} {time.perf_counter() - t:6.1f}s {status}"
                )
    results = list(cells.values())
    if "W7" in wanted:
        for key in ("W1", "W3"):
            for c in [c for c in results if c.workload == key]:
                w7 = Cell(f"W7/{key}", c.system, errors=list(c.errors))
                w7.runs = [
                    {m: r[m] for m in ("commits_per_step", "xact_per_step") if m in r}
                    for r in c.runs
                ]
                results.append(w7)
        results = [
            c
            for c in results
            if c.workload in wanted
            or c.workload.startswith("W7")
            or c.workload.split("/")[0] in wanted
        ]
    meta = environment(names, args.pg_url if "postgres" in stores else None)
    meta["sizes"] = sizes.__dict__
    meta["command"] = " ".join(["python", "bench/run.py", *(argv or sys.argv[1:])])
    document = json.dumps(
        {
            "meta": meta,
            "results": [
                {"workload": c.workload, "system": c.system, "runs": c.runs, "errors": c.errors}
                for c in results
            ],
        },
        indent=1,
    )
    if args.save:
        Path(args.save).write_text(document + "\n")
    if args.json:
        print(document)
    else:
        print(_meta_lines(meta))
        print(markdown(results) if args.markdown else table(results))
    return 1 if any(c.errors for c in results) else 0


def environment(names: Sequence[str], pg_url: str | None) -> dict[str, Any]:
    from importlib.metadata import version

    meta: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {_memory_gib():.0f} GiB",
        "python": platform.python_version(),
        "cadenza": f"{version('cadenza')} ({_git_state()})",
    }
    for peer in names:
        if not peer.startswith("cadenza"):
            meta[peer] = peer_versions(peer)
    if pg_url:
        meta["postgresql"] = pg_version(pg_url)
    return meta


def _git_state() -> str:
    """The commit measured, and whether src/ had uncommitted changes then."""
    repo = BENCH.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "no git"
    return f"commit {head}{', src modified' if dirty else ''}"


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def _meta_lines(meta: dict[str, Any]) -> str:
    return "\n".join(f"# {k}: {v}" for k, v in meta.items()) + "\n"


if __name__ == "__main__":
    sys.exit(main())
