"""Prometheus metrics of the risk service, on a registry of its own (one per app instance)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ..risk.models import VerdictKind

# Sub-millisecond to a second: the target is p99 ≤ 10 ms.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.checks = Counter(
            "zkrisk_api_checks", "Pre-trade checks answered, by verdict.", ["verdict"],
            registry=self.registry,
        )  # fmt: skip
        for kind in VerdictKind:
            self.checks.labels(verdict=kind.value)
        self.check_latency = Histogram(
            "zkrisk_api_check_seconds", "Time to decide one check (service side, no network).",
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.errors = Counter(
            "zkrisk_api_internal_errors", "Checks that failed internally (answered REJECT).",
            registry=self.registry,
        )  # fmt: skip
        self.kill_switch = Gauge(
            "zkrisk_api_kill_switch_engaged", "1 while the kill switch halts approvals.",
            registry=self.registry,
        )  # fmt: skip
        self.auth_failures = Counter(
            "zkrisk_api_auth_failures",
            "Requests refused for a missing or wrong kill-switch token or API key.",
            registry=self.registry,
        )
        self.requests = Counter(
            "zkrisk_http_requests", "HTTP answers, by route template, method and status.",
            ["route", "method", "status"], registry=self.registry,
        )  # fmt: skip
        self.request_seconds = Histogram(
            "zkrisk_http_request_duration_seconds",
            "Time from request to the end of the answer (in-process), by route and method.",
            ["route", "method"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.reload_errors = Counter(
            "zkrisk_api_reload_errors", "Changed input files that failed to load (old data kept).",
            ["file"], registry=self.registry,
        )  # fmt: skip
