"""Prometheus metrics at ``GET /metrics``.

Counts are read from the store when scraped (executions by kind and status,
tasks by queue and status: the same figures every server on a database
reports); latencies are this process's own, observed as its rounds commit:

``cadenza_decision_latency_seconds``
    from an event's arrival in an execution's inbox to the commit of the
    decision that folded it;
``cadenza_task_start_latency_seconds``
    from the moment a task was due to its claim by a worker of this process.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from cadenza.engine.engine import Engine
from cadenza.store.protocol import RoundOutcome

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class StoreCounts(Collector):
    """Gauges read from the store at each scrape."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        executions = GaugeMetricFamily(
            "cadenza_executions", "Executions by kind and status", labels=["kind", "status"]
        )
        for (kind, status), count in sorted(self.engine.store.execution_counts().items()):
            executions.add_metric([kind, status], count)
        yield executions
        tasks = GaugeMetricFamily(
            "cadenza_tasks", "Tasks by queue and status (the backlog)", labels=["queue", "status"]
        )
        for (queue, status), count in sorted(self.engine.store.task_counts().items()):
            tasks.add_metric([queue, status], count)
        yield tasks


def metrics_routes(engine: Engine) -> APIRouter:
    """``GET /metrics`` over ``engine``, with the histograms it feeds."""
    registry = CollectorRegistry()
    registry.register(StoreCounts(engine))
    decisions = Histogram(
        "cadenza_decision_latency_seconds",
        "From an input event's arrival to the commit of its decision",
        buckets=_BUCKETS,
        registry=registry,
    )
    starts = Histogram(
        "cadenza_task_start_latency_seconds",
        "From a task being due to its claim by a worker of this process",
        buckets=_BUCKETS,
        registry=registry,
    )

    def observe(done: RoundOutcome, now: float) -> None:
        for result in done.saved:
            first = result.appended[0][0] if result.appended else None
            arrived = [
                time
                for decision, time, event in result.appended
                if decision == first and event.is_input
            ]
            if arrived:
                decisions.observe(max(0.0, now - min(arrived)))
        for task in done.claimed:
            starts.observe(max(0.0, now - task.available_at))

    engine.add_round_listener(observe)
    api = APIRouter()

    @api.get("/metrics", tags=["health"], response_class=Response)
    def metrics() -> Response:
        """Prometheus text exposition of the counts and latencies."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return api
