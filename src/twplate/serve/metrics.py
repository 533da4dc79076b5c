"""The service's Prometheus metrics, in a registry of its own (two apps in one process do not clash).

With ``--workers N`` each worker process counts its own requests: a scrape shows the worker that
answered it (Prometheus' multiprocess mode is not used).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

BATCH_BUCKETS = (1, 2, 4, 8, 16, 24, 32, 48, 64, 128, 256)
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)


class ServeMetrics:
    """Requests by route and status, images by mode and outcome, errors by kind, latency, batch sizes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("twplate_requests", "HTTP requests answered", ["route", "status"],
                                registry=self.registry)
        self.images = Counter("twplate_images", "Images received in /v1/read requests", ["mode", "outcome"],
                              registry=self.registry)
        self.errors = Counter("twplate_errors", "Requests refused or failed, and bad images, by kind", ["kind"],
                              registry=self.registry)
        self.latency = Histogram("twplate_request_seconds", "Time to answer a request", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_size = Histogram("twplate_batch_size", "Images per model call", ["mode"],
                                    buckets=BATCH_BUCKETS, registry=self.registry)
        self.batch_seconds = Histogram("twplate_batch_seconds", "Time of one model call", ["mode"],
                                       buckets=LATENCY_BUCKETS, registry=self.registry)
        self.in_flight = Gauge("twplate_requests_in_flight", "Requests being answered", registry=self.registry)

    def observe_batch(self, mode: str, size: int, seconds: float) -> None:
        self.batch_size.labels(mode).observe(size)
        self.batch_seconds.labels(mode).observe(seconds)

    def render(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)
