"""One in-process DBOS measurement (W1, W2, W3, W6); prints one JSON object.

Same protocol as bench/workloads/cadenza_bench.py. Steps are ``@DBOS.step``
functions called from a ``@DBOS.workflow``; W2 enqueues its steps on a
registered queue (DBOS's documented way to run steps concurrently); W3
starts every run with ``DBOS.start_workflow`` and then awaits the handles.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from common import COUNTS, DBOS, is_pg, launch
from workloads import pgstats

QUEUE = "fan"


@DBOS.step()
def inc(value: int) -> int:
    return value + 1


@DBOS.step()
def ident(value: int) -> int:
    return value


@DBOS.step()
def total(values: list[int]) -> int:
    return sum(values)


@DBOS.workflow()
def chain(steps: int) -> int:
    v = 0
    for _ in range(steps):
        v = inc(v)
    return v


@DBOS.workflow()
def fan(width: int) -> int:
    handles = [DBOS.enqueue_workflow(QUEUE, ident, i) for i in range(width)]
    return total([h.get_result() for h in handles])


def measured(url: str, body: Any) -> tuple[Any, float, dict[str, int], int | None]:
    """Launch once to create the schema, then measure ``body`` in a second
    launch so that migrations stay out of the counts."""
    launch(url)
    DBOS.destroy()
    xact0 = pgstats.settled_xact_commit(url) if is_pg(url) else None
    launch(url)
    DBOS.register_queue(QUEUE)
    before = dict(COUNTS)
    t0 = time.perf_counter()
    result = body()
    wall = time.perf_counter() - t0
    counts = {k: COUNTS[k] - before[k] for k in COUNTS}
    DBOS.destroy()
    xact = pgstats.settled_xact_commit(url) - xact0 if xact0 is not None else None
    return result, wall, counts, xact


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workload", required=True, choices=["W1", "W2", "W3", "W6"])
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--store-url", required=True)
    args = parser.parse_args()
    n, url = args.size, args.store_url
    metrics: dict[str, Any]
    if args.workload == "W1":
        result, wall, counts, xact = measured(url, lambda: chain(n))
        assert result == n, result
        steps = n
        metrics = {"wall_s": wall, "per_step_ms": wall / n * 1000}
    elif args.workload == "W6":
        # As Cadenza's W6: a second run of the same length in the same process.
        def twice() -> tuple[int, float]:
            first = chain(n)
            t0 = time.perf_counter()
            assert chain(n) == n
            return first, time.perf_counter() - t0

        (result, warm), wall, counts, xact = measured(url, twice)
        assert result == n, result
        steps = n
        wall -= warm
        counts = {k: v // 2 for k, v in counts.items()}
        xact = None if xact is None else xact // 2
        metrics = {
            "wall_s": wall,
            "per_step_ms": wall / n * 1000,
            "warm_per_step_ms": warm / n * 1000,
        }
    elif args.workload == "W2":
        result, wall, counts, xact = measured(url, lambda: fan(n))
        assert result == sum(range(n)), result
        steps = n + 1
        metrics = {"wall_s": wall, "per_step_ms": wall / steps * 1000}
    else:

        def many() -> list[int]:
            handles = [DBOS.start_workflow(chain, 3) for _ in range(n)]
            return [h.get_result() for h in handles]

        result, wall, counts, xact = measured(url, many)
        assert result == [3] * n
        steps = 3 * n
        metrics = {"wall_s": wall, "runs_per_s": n / wall, "steps_per_s": steps / wall}
    metrics["commits_per_step"] = counts["write_commits"] / steps
    metrics["all_commits_per_step"] = counts["commits"] / steps
    if xact is not None:
        metrics["xact_per_step"] = xact / steps
    print(json.dumps({"metrics": metrics}))


if __name__ == "__main__":
    main()
