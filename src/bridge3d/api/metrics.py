"""`GET /metrics`: the gateway in the Prometheus text format (prometheus-client).

Requests are counted and timed by route template (``/api/v1/blender/objects/{name}``, never the raw path, so the
number of series stays bounded). Workers, sessions, jobs and the queue are read from the runtime at each scrape;
job durations are observed when a job finishes. Each app instance has its own registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
JOB_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
UNMATCHED = "(unmatched)"


class RuntimeCollector(Collector):
    """Gauges and counters read from the runtime (``source()``; None until the gateway has started)."""

    def __init__(self, source: Callable[[], Any]) -> None:
        self.source = source

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        runtime = self.source()
        if runtime is None:
            return
        workers = GaugeMetricFamily(
            "bridge3d_workers", "Worker processes by application and role", labels=["app", "role"]
        )
        lost = CounterMetricFamily(
            "bridge3d_worker_exits",
            "Workers whose process ended by itself (crash, kill) and were replaced",
            labels=["app"],
        )
        for app, pool in runtime.pools.items():
            for role, count in pool.counts().items():
                workers.add_metric([app, role], count)
            lost.add_metric([app], pool.lost)
        sessions = GaugeMetricFamily("bridge3d_sessions", "Sessions besides the default ones", labels=["app"])
        for app, count in runtime.sessions.counts().items():
            sessions.add_metric([app], count)
        jobs = GaugeMetricFamily(
            "bridge3d_jobs", "Jobs by state (finished ones until they are removed)", labels=["state"]
        )
        counts = runtime.jobs.counts()
        for state, count in counts.items():
            jobs.add_metric([state], count)
        queue = GaugeMetricFamily("bridge3d_job_queue_depth", "Jobs waiting for a job worker")
        queue.add_metric([], counts["queued"])
        yield from (workers, lost, sessions, jobs, queue)


class Metrics:
    def __init__(self, runtime: Callable[[], Any]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "bridge3d_requests", "HTTP requests by route, method and status", ["route", "method", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "bridge3d_request_duration_seconds", "HTTP request latency by route and method", ["route", "method"],
            buckets=REQUEST_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.job_durations = Histogram(
            "bridge3d_job_duration_seconds", "Time from start (or queueing, if never started) to the end of a job",
            ["kind", "state"], buckets=JOB_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.registry.register(RuntimeCollector(runtime))

    def observe_request(self, scope: MutableMapping[str, Any], status: int, seconds: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or UNMATCHED
        self.requests.labels(template, scope["method"], str(status)).inc()
        self.latency.labels(template, scope["method"]).observe(seconds)

    def job_listener(self, topic: str, job: Any) -> None:
        """A JobManager listener: a finished job's duration."""
        if job.state in ("succeeded", "failed", "cancelled") and topic == f"job.{job.state}":
            self.job_durations.labels(job.kind, job.state).observe(job.finished - (job.started or job.created))

    def text(self) -> bytes:
        return generate_latest(self.registry)
