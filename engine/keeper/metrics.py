"""The keeper's Prometheus metrics, in their own registry (served with `serve_metrics`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


@dataclass
class KeeperMetrics:
    """Counters and histograms of one keeper."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.ticks = Counter("zkrisk_keeper_ticks", "Polling rounds completed.", registry=r)
        self.snapshots = Counter(
            "zkrisk_keeper_snapshots", "Price snapshots the keeper took.", registry=r
        )
        self.proofs = Counter("zkrisk_keeper_proofs", "HF < 1 proofs made.", registry=r)
        self.proof_seconds = Histogram(
            "zkrisk_keeper_proof_seconds", "Time to prove HF < 1.", registry=r,
            buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10),
        )  # fmt: skip
        self.liquidations = Counter(
            "zkrisk_keeper_liquidations", "Liquidations mined, by path.", ["path"], registry=r
        )
        self.liquidation_seconds = Histogram(
            "zkrisk_keeper_liquidation_seconds",
            "New snapshot seen or taken → liquidation mined.", registry=r,
            buckets=(0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10, 30),
        )  # fmt: skip
        self.errors = Counter("zkrisk_keeper_errors", "Errors, by kind.", ["kind"], registry=r)
        self.pending = Gauge(
            "zkrisk_keeper_pending_txs", "Liquidations sent, not mined.", registry=r
        )
        self.prove_queue = Gauge(
            "zkrisk_keeper_prove_queue_accounts",
            "Accounts of this round still waiting to be evaluated (and proven if unhealthy).",
            registry=r,
        )


def serve_metrics(metrics: KeeperMetrics, port: int, addr: str = "127.0.0.1") -> WSGIServer:
    """Serve /metrics on `port` (0: any free port) in a daemon thread; `server.server_port` is
    the port, `server.shutdown()` stops it."""
    server, _thread = start_http_server(port, addr=addr, registry=metrics.registry)
    return server
