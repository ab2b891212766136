"""Liveness and readiness of a running keeper, served over HTTP next to its Prometheus metrics.

- `/livez`: 200 while the loop has finished a tick (successful or not) within `live_within`
  seconds; a keeper stuck inside a call is not live and should be restarted.
- `/readyz`: 200 when the last tick reached the node, the circuit artefacts are on disk and the
  keeper's pending transactions were reconciled with the chain's nonce; 503 with the failing
  checks otherwise (a keeper that cannot reach its node is live but not ready).
- `/metrics`: the keeper's Prometheus registry.

The loop publishes a frozen `LoopState` (replaced, never mutated, so the server thread always
reads a consistent one); `liveness` and `readiness` are pure functions of it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from zkrisk.prover.artifacts import CircuitArtifacts

from .metrics import KeeperMetrics


@dataclass(frozen=True)
class LoopState:
    """What the keeper loop last did, as the health endpoints see it."""

    last_tick_at: float | None = None
    """time.monotonic() at the end of the last tick, successful or not."""
    ticks: int = 0
    failed_ticks: int = 0
    last_failed: bool = False
    """Whether the last tick failed (an error escaped it)."""
    rpc_error: str | None = "no tick yet"
    """Why the last tick did not reach the node; None when it did."""
    nonce_error: str | None = "pending transactions not reconciled with the chain yet"
    """Why the keeper's record of its transactions may disagree with the chain's nonce."""
    chain_nonce: int | None = None
    """The keeper key's mined transaction count at the last reconciliation."""
    open_txs: int = 0
    """Liquidations sent and not yet settled."""


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str

    def json(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail}


def liveness(state: LoopState, now: float, live_within: float) -> Check:
    if state.last_tick_at is None:
        return Check(False, "no tick finished yet")
    ago = now - state.last_tick_at
    if ago > live_within:
        return Check(False, f"last tick {ago:.1f}s ago, more than {live_within:g}s")
    return Check(True, f"last tick {ago:.2f}s ago")


def artifacts_check(artifacts: CircuitArtifacts) -> Check:
    files = (artifacts.zkey, artifacts.vkey, artifacts.compiled.wasm)
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        return Check(False, f"missing {', '.join(missing)}: rebuild the circuit (zkrisk setup)")
    return Check(True, f"{artifacts.spec.name} in {artifacts.folder}")


def readiness(state: LoopState, artifacts: Check) -> dict[str, Check]:
    rpc = Check(state.rpc_error is None, state.rpc_error or "the last tick reached the node")
    nonce = Check(
        state.nonce_error is None,
        state.nonce_error
        or f"chain nonce {state.chain_nonce}, {state.open_txs} liquidation(s) pending",
    )
    return {"rpc": rpc, "artifacts": artifacts, "nonce": nonce}


def serve_health(
    state: Callable[[], LoopState],
    artifacts: CircuitArtifacts,
    metrics: KeeperMetrics,
    port: int,
    *,
    live_within: float = 60.0,
    addr: str = "127.0.0.1",
) -> ThreadingHTTPServer:
    """Serve /livez, /readyz and /metrics on `port` (0: any free) in a daemon thread;
    `server.server_port` is the port, `server.shutdown()` stops it."""

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, generate_latest(metrics.registry), CONTENT_TYPE_LATEST)
            elif path == "/livez":
                live = liveness(state(), time.monotonic(), live_within)
                self._json(200 if live.ok else 503, {"live": live.ok, "detail": live.detail})
            elif path == "/readyz":
                checks = readiness(state(), artifacts_check(artifacts))
                ready = all(c.ok for c in checks.values())
                body = {"ready": ready, "checks": {k: c.json() for k, c in checks.items()}}
                self._json(200 if ready else 503, body)
            else:
                self._json(404, {"error": f"no {path}", "endpoints": ["/livez", "/readyz",
                                                                      "/metrics"]})  # fmt: skip

        def _json(self, status: int, body: dict[str, Any]) -> None:
            self._send(status, json.dumps(body).encode(), "application/json")

        def _send(self, status: int, data: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass  # probes every few seconds would drown the keeper's JSON log

    server = ThreadingHTTPServer((addr, port), Health)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="keeper-health", daemon=True).start()
    return server
