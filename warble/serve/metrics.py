"""Prometheus metrics of one server: HTTP traffic, tokens, time to first token, and the engine's queue.

Each app has its own `CollectorRegistry` (not the process-global one), so several apps in one process (the tests)
do not collide, and `/metrics` shows only this server. The engine's numbers are read from `engine.stats()` at
scrape time, so they cost nothing between scrapes. Route labels are route templates (`/v1/models/{model_id}`),
never raw paths, which would let any client create unbounded label sets.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

log = logging.getLogger("warble.serve")

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384)


class EngineCollector:
    """The engine's `stats()` as metrics `warble_engine_*`: keys ending in `_total` are counters, other numbers
    gauges (running and waiting requests, KV-cache use, ...), whatever the engine chooses to report."""

    def __init__(self, engine):
        self.engine = engine

    def collect(self):
        try:
            stats = self.engine.stats()
        except Exception:  # a scrape must not fail because the engine is shutting down
            log.exception("engine.stats() failed during a metrics scrape")
            return
        for key, value in sorted(stats.items()):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            name = f"warble_engine_{key}"
            if key.endswith("_total"):
                yield CounterMetricFamily(name[: -len("_total")], f"engine: {key}", value=value)
            else:
                yield GaugeMetricFamily(name, f"engine: {key}", value=value)

    def describe(self):
        return []  # collected at scrape time only (stats may change keys)


class Metrics:
    def __init__(self, engine=None):
        self.registry = r = CollectorRegistry()
        self.requests = Counter("warble_http_requests", "HTTP requests by route, method and status",
                                ["route", "method", "status"], registry=r)
        self.latency = Histogram("warble_http_request_duration_seconds",
                                 "time from request to the last byte of the response (whole stream)",
                                 ["route", "method"], buckets=LATENCY_BUCKETS, registry=r)
        self.in_flight = Gauge("warble_http_requests_in_flight", "requests being served", registry=r)
        self.prompt_tokens = Counter("warble_prompt_tokens", "prompt tokens of completion requests", registry=r)
        self.completion_tokens = Counter("warble_completion_tokens", "tokens generated for completion requests",
                                         registry=r)
        self.completion_length = Histogram("warble_completion_tokens_per_choice", "generated tokens per choice",
                                           buckets=TOKEN_BUCKETS, registry=r)
        self.ttft = Histogram("warble_time_to_first_token_seconds", "streamed completions: request to first text",
                              buckets=LATENCY_BUCKETS, registry=r)
        self.embedded = Counter("warble_embedding_inputs", "texts embedded", registry=r)
        self.embedding_tokens = Counter("warble_embedding_tokens", "tokens of embedded texts", registry=r)
        self.finished = Counter("warble_completions_finished", "completion choices by finish reason",
                                ["reason"], registry=r)
        if engine is not None:
            r.register(EngineCollector(engine))

    def render(self) -> bytes:
        return generate_latest(self.registry)
