"""Cadenza over HTTP: K clients start executions, M outside workers run their tasks.

One ``cadenza server`` process per store (a temporary SQLite file, and a fresh
PostgreSQL database when ``--store-url`` reaches one). ``--clients`` threads
start ``--executions`` executions of a one-step workflow whose action only the
HTTP workers know; ``--workers`` threads long-poll ``/v1/workers/tasks/claim``
and complete each task. Measured from the first start request until every
execution succeeded:

* executions per second;
* latency of each execution, from its creation to its completion as the
  server recorded them (``created_at`` to ``updated_at``): median and p99.

Prefect's server in the same run (``--prefect``, on by default): the nearest
shape its API has. Prefect's workers do not answer one task of a running flow
over HTTP; they poll a work pool for scheduled flow runs and then run each
whole flow. So the clients create flow runs of a deployment
(``POST /api/deployments/{id}/create_flow_run``), and the workers poll
``POST /api/work_pools/{pool}/get_scheduled_flow_runs``, claim each run by
proposing ``PENDING`` (the server's orchestration rules refuse a second
claim) and report ``RUNNING`` then ``COMPLETED``: the state transitions a
real Prefect worker and flow process report, with the flow's own work (here
nothing) left out; an idle worker polls every 0.25 s (Prefect's default is
15 s). On SQLite, Prefect's server answers concurrent writes it cannot take
("database is locked") with 503, which its client retries: so do these
calls, with backoff and jitter, and the number retried is printed (each
create carries an idempotency key, so a retried one is not a second run).
Latency is a flow run's ``created`` to its ``end_time``.
Prefect 3 runs from its own virtual environment under ``bench/.peers/prefect``
(``bench/peers/prefect/requirements.txt``, shared with ``bench/run.py``),
created on first use; it is never installed into Cadenza's environment. Its
server runs on SQLite; PostgreSQL is Cadenza's only. DBOS has no server, so it
has no figure here. Run ``python bench/http_api.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

FLOW = """\
version: 1.0
tasks:
  work:
    action: bench.work
    input:
      n: <% ctx().n %>
input:
  - n
"""

LISTENING = re.compile(r"listening on (http://\S+),")


@contextmanager
def server(store_url: str, workdir: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """A ``cadenza server`` on a free loopback port."""
    env = {k: v for k, v in os.environ.items() if k not in ("CADENZA_STORE", "CADENZA_API_TOKEN")}
    process = subprocess.Popen(
        [sys.executable, "-m", "cadenza", "server", "--bind", "127.0.0.1:0", "--store", store_url],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    url = None
    for line in process.stderr:
        found = LISTENING.search(line)
        if found:
            url = found.group(1)
            break
    if url is None:
        raise SystemExit(f"the server exited ({process.wait()}) before listening")
    try:
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def postgres_database(url: str) -> Iterator[str | None]:
    """A fresh database on the server of ``url``, or None when it cannot be reached."""
    try:
        import psycopg
    except ImportError:
        yield None
        return
    name = f"bench_http_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error:
        yield None
        return
    base = url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def measure(url: str, executions: int, clients: int, workers: int) -> dict[str, Any]:
    """One timed run against the server at ``url``."""
    http = httpx.Client(base_url=url, timeout=120)
    definition = http.post("/v1/definitions", json={"source": FLOW}).json()["id"]
    remaining = threading.Semaphore(0)
    done = threading.Event()
    started: list[str] = []
    lock = threading.Lock()

    def client(share: int) -> None:
        with httpx.Client(base_url=url, timeout=120) as own:
            for i in range(share):
                answer = own.post(
                    "/v1/executions", json={"definition_id": definition, "input": {"n": i}}
                )
                answer.raise_for_status()
                with lock:
                    started.append(answer.json()["id"])

    def worker(name: str) -> None:
        with httpx.Client(base_url=url, timeout=120) as own:
            while not done.is_set():
                tasks = own.post(
                    "/v1/workers/tasks/claim",
                    json={"worker": name, "actions": ["bench.work"], "limit": 8, "wait": 1},
                ).json()["tasks"]
                for task in tasks:
                    own.post(
                        "/v1/workers/tasks/complete",
                        json={"token": task["token"], "result": {"n": task["input"]["n"]}},
                    ).raise_for_status()
                    remaining.release()

    pool = [threading.Thread(target=worker, args=(f"w{i}",), daemon=True) for i in range(workers)]
    for thread in pool:
        thread.start()
    began = time.perf_counter()
    shares = [
        executions // clients + (1 if i < executions % clients else 0) for i in range(clients)
    ]
    starters = [threading.Thread(target=client, args=(share,)) for share in shares]
    for thread in starters:
        thread.start()
    for thread in starters:
        thread.join()
    for _ in range(executions):
        remaining.acquire()
    # Every task is answered; wait for the last decisions to be recorded.
    while True:
        page = http.get("/v1/executions", params={"status": "succeeded", "limit": 1000})
        succeeded = page.json()["executions"]
        if len(succeeded) >= min(executions, 1000):
            break
        time.sleep(0.01)  # the clock of a benchmark, not a test
    wall = time.perf_counter() - began
    done.set()
    latencies = sorted(e["updated_at"] - e["created_at"] for e in succeeded)
    http.close()
    return {
        "executions": executions,
        "clients": clients,
        "workers": workers,
        "wall_s": wall,
        "executions_per_s": executions / wall,
        "latency_p50_ms": statistics.median(latencies) * 1000,
        "latency_p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000,
    }


# --- Prefect's server, the same workload shape ----------------------------------------------

PREFECT_POOL = "bench"
#: How often a Prefect worker with nothing to do polls its work pool.
POLL_SECONDS = 0.25


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def prefect_python(log: Any) -> Path | None:
    """The python of Prefect's own environment (created on first use), or None
    with the reason printed when it cannot be had."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import run as peers  # bench/run.py: the peer environments it shares

    try:
        peers.ensure_peer_env("prefect", log)
    except (OSError, subprocess.CalledProcessError) as exc:
        log(f"prefect: cannot create its environment ({exc}); no Prefect figures")
        return None
    python: Path = peers.peer_python("prefect")
    return python


@contextmanager
def prefect_server(python: Path, workdir: Path, timeout: float) -> Iterator[str | None]:
    """Prefect's server on SQLite in ``workdir``, or None if it did not answer in time."""
    port = _free_port()
    home = workdir / f"prefect-{uuid.uuid4().hex[:8]}"
    home.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")},
        "PREFECT_HOME": str(home),
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    server_log = (home / "server.log").open("w")
    process = subprocess.Popen(
        [
            str(python),
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=home,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=server_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + timeout
    ready = False
    while time.monotonic() < deadline and process.poll() is None:
        try:
            ready = httpx.get(f"{url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            ready = False
        if ready:
            break
        time.sleep(0.5)  # the clock of a benchmark, not a test
    try:
        yield url if ready else None
    finally:
        if process.poll() is not None:
            tail = (home / "server.log").read_text(errors="replace").splitlines()[-20:]
            print(f"prefect: its server exited ({process.returncode}):", file=sys.stderr)
            print("\n".join(tail), file=sys.stderr)
        server_log.close()
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        except ProcessLookupError:
            pass  # it is gone already
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


#: Answers of Prefect's server that its own client retries (with backoff).
_RETRIED = frozenset({429, 503})


class PrefectCalls:
    """Calls to Prefect's API that retry what Prefect's client retries: on SQLite,
    concurrent writes are often answered ``503 Service Unavailable``."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=120)
        self.retries = 0

    def post(self, path: str, body: Any) -> Any:
        for attempt in range(30):
            answer = self.http.post(path, json=body)
            if answer.status_code not in _RETRIED:
                answer.raise_for_status()
                return answer.json()
            self.retries += 1
            # Exponential backoff with jitter, as Prefect's client does.
            delay = min(2.0, 0.02 * 2**attempt) * random.uniform(0.5, 1.5)
            time.sleep(delay)  # the clock of a benchmark, not a test
        raise RuntimeError(f"Prefect's server kept answering {answer.status_code} to {path}")

    def close(self) -> None:
        self.http.close()


def _prefect_time(text: str) -> float:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def measure_prefect(url: str, executions: int, clients: int, workers: int) -> dict[str, Any]:
    """The workload's shape on Prefect's server at ``url``."""
    setup = PrefectCalls(url)
    flow = setup.post("/flows/", {"name": "bench"})
    setup.post("/work_pools/", {"name": PREFECT_POOL, "type": "process"})
    deployment = setup.post(
        "/deployments/",
        {"name": "bench", "flow_id": flow["id"], "work_pool_name": PREFECT_POOL},
    )
    remaining = threading.Semaphore(0)
    done = threading.Event()
    failures: list[BaseException] = []
    calls: list[PrefectCalls] = []

    def client(number: int, share: int) -> None:
        own = PrefectCalls(url)
        calls.append(own)
        try:
            for i in range(share):
                # The key makes a retried create (after a 503 whose write did
                # commit) return the same run instead of a second one.
                own.post(
                    f"/deployments/{deployment['id']}/create_flow_run",
                    {"parameters": {"n": i}, "idempotency_key": f"{number}-{i}"},
                )
        except Exception as exc:
            failures.append(exc)

    def propose(own: PrefectCalls, run_id: str, kind: str) -> bool:
        answer = own.post(f"/flow_runs/{run_id}/set_state", {"state": {"type": kind}})
        return bool(answer.get("status") == "ACCEPT")

    def worker() -> None:
        own = PrefectCalls(url)
        calls.append(own)
        try:
            while not done.is_set():
                now = datetime.datetime.now(datetime.UTC).isoformat()
                found = own.post(
                    f"/work_pools/{PREFECT_POOL}/get_scheduled_flow_runs",
                    {"scheduled_before": now, "limit": 8},
                )
                runs = [item["flow_run"] for item in found]
                if not runs:
                    # Prefect's API has no long poll: a worker polls (every 15 s by
                    # default). Here every 0.25 s: faster polls only add writes
                    # that SQLite answers with "database is locked".
                    time.sleep(POLL_SECONDS)
                    continue
                for flow_run in runs:
                    if not propose(own, flow_run["id"], "PENDING"):
                        continue  # another worker claimed it
                    propose(own, flow_run["id"], "RUNNING")
                    propose(own, flow_run["id"], "COMPLETED")
                    remaining.release()
        except Exception as exc:
            if not done.is_set():  # not the server going away at the end
                failures.append(exc)

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for thread in pool:
        thread.start()
    began = time.perf_counter()
    shares = [
        executions // clients + (1 if i < executions % clients else 0) for i in range(clients)
    ]
    starters = [
        threading.Thread(target=client, args=(number, share), daemon=True)
        for number, share in enumerate(shares)
    ]
    for thread in starters:
        thread.start()
    finished = 0
    while finished < executions:
        if remaining.acquire(timeout=1):
            finished += 1
        elif failures:
            done.set()
            raise RuntimeError(f"a Prefect client or worker failed: {failures[0]!r}")
    for thread in starters:
        thread.join()
    wall = time.perf_counter() - began
    done.set()
    latencies: list[float] = []
    while True:
        runs = setup.post(
            "/flow_runs/filter",
            {
                "flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}},
                "limit": 200,
                "offset": len(latencies),
            },
        )
        latencies += [_prefect_time(r["end_time"]) - _prefect_time(r["created"]) for r in runs]
        if len(runs) < 200:
            break
    setup.close()
    latencies.sort()
    return {
        "executions": executions,
        "clients": clients,
        "workers": workers,
        "wall_s": wall,
        "executions_per_s": executions / wall,
        "latency_p50_ms": statistics.median(latencies) * 1000,
        "latency_p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000,
        "retried_503": sum(c.retries for c in calls),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=500)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--store-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--prefect",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run the workload's shape on Prefect's server (its own venv, made once)",
    )
    parser.add_argument(
        "--prefect-start-timeout",
        type=float,
        default=240.0,
        help="seconds to wait for Prefect's server to answer before giving up on it",
    )
    args = parser.parse_args()
    results: list[dict[str, Any]] = []

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    python = prefect_python(log) if args.prefect else None
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        workdir = Path(tmp)
        for repetition in range(args.repeat):
            if python is not None:
                with prefect_server(python, workdir, args.prefect_start_timeout) as api:
                    if api is None:
                        log(
                            f"prefect: its server did not answer within "
                            f"{args.prefect_start_timeout:g} s; no Prefect figure this run"
                        )
                    else:
                        run = measure_prefect(api, args.executions, args.clients, args.workers)
                        run["store"] = "prefect-sqlite"
                        results.append(run)
                        log(
                            f"[{repetition + 1}/{args.repeat}] prefect (sqlite): "
                            f"{run['executions_per_s']:.1f} flow runs/s, "
                            f"p50 {run['latency_p50_ms']:.1f} ms, "
                            f"p99 {run['latency_p99_ms']:.1f} ms, "
                            f"{run['retried_503']} requests retried after a 503"
                        )
            stores: list[tuple[str, Any]] = [("sqlite", lambda r=repetition: _sqlite(workdir, r))]
            stores.append(("postgres", lambda: postgres_database(args.store_url)))
            for store, opener in stores:
                with opener() as url:
                    if url is None:
                        print(f"{store}: unavailable, skipped", file=sys.stderr)
                        continue
                    with server(url, workdir) as (api, _process):
                        run = measure(api, args.executions, args.clients, args.workers)
                    run["store"] = store
                    results.append(run)
                    print(
                        f"[{repetition + 1}/{args.repeat}] {store}: "
                        f"{run['executions_per_s']:.1f} executions/s, "
                        f"p50 {run['latency_p50_ms']:.1f} ms, p99 {run['latency_p99_ms']:.1f} ms",
                        file=sys.stderr,
                    )
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(
        f"{args.executions} executions, {args.clients} clients, {args.workers} workers, "
        f"{args.repeat} runs: median (min-max)"
    )
    print("| system and store | executions/s | latency p50 ms | latency p99 ms |")
    print("|---|---|---|---|")
    for store in ("sqlite", "postgres", "prefect-sqlite"):
        mine = [r for r in results if r["store"] == store]
        if not mine:
            continue
        cells = []
        for key in ("executions_per_s", "latency_p50_ms", "latency_p99_ms"):
            values = [r[key] for r in mine]
            cells.append(f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})")
        label = {"sqlite": "Cadenza, SQLite", "postgres": "Cadenza, PostgreSQL"}.get(
            store, "Prefect 3, SQLite (flow runs)"
        )
        print(f"| {label} | " + " | ".join(cells) + " |")
    mine = [r["executions_per_s"] for r in results if r["store"] == "sqlite"]
    theirs = [r["executions_per_s"] for r in results if r["store"] == "prefect-sqlite"]
    if mine and theirs:
        ratio = statistics.median(mine) / statistics.median(theirs)
        print(f"Cadenza (SQLite) / Prefect (SQLite), executions per second: {ratio:.2f}")
    elif args.prefect:
        print("Prefect: no figure (see the messages above)")
    return 0


@contextmanager
def _sqlite(workdir: Path, repetition: int) -> Iterator[str]:
    yield f"sqlite:///{workdir / f'store-{repetition}.db'}"


if __name__ == "__main__":
    sys.exit(main())
