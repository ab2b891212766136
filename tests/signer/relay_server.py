"""A local private-transaction relay for the signer's tests: it stands in for a private-mempool
service (Flashbots Protect, a builder's bundle endpoint) that cannot be reached from here.

A real HTTP JSON-RPC server on a free loopback port that takes `eth_sendPrivateTransaction
[{"tx", "maxBlockNumber"?, "preferences"?}]` and `eth_sendBundle [{"txs", "blockNumber"}]`,
records every call, and hands the transactions to Anvil with `eth_sendRawTransaction` (Anvil
mines at once: the transaction is public only as part of a block, as a builder's would be).
`mode` tells it what to do with the next calls: "forward" at once, "hold" until `release()`
(a private pool: Anvil knows nothing of it until then), "refuse" with a JSON-RPC error.
`unreachable_url()` is a loopback URL nothing listens on (a relay that is down).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import httpx

Mode = Literal["forward", "hold", "refuse"]
REFUSAL = "relay refuses this transaction (the test told it to)"


@dataclass
class RelayServer:
    node_url: str
    mode: Mode = "forward"
    calls: list[tuple[str, list[Any]]] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self, raw: str) -> int:
        """How many calls carried the signed transaction `raw`."""
        with self._lock:
            return sum(raw in _transactions(method, params) for method, params in self.calls)

    def release(self) -> None:
        """Send every held transaction to the node (the builder includes them)."""
        with self._lock:
            held, self.held = self.held, []
        for raw in held:
            self._forward(raw)

    def handle(self, method: str, params: list[Any]) -> dict[str, Any]:
        with self._lock:
            self.calls.append((method, params))
            mode = self.mode
        if method not in ("eth_sendPrivateTransaction", "eth_sendBundle"):
            return {"error": {"code": -32601, "message": f"method {method} not found"}}
        if mode == "refuse":
            return {"error": {"code": -32000, "message": REFUSAL}}
        txs = _transactions(method, params)
        for raw in txs:
            if mode == "hold":
                with self._lock:
                    self.held.append(raw)
            else:
                self._forward(raw)
        if method == "eth_sendBundle":
            return {"result": {"bundleHash": "0x" + "00" * 32}}
        return {"result": "0x"}

    def _forward(self, raw: str) -> None:
        body = {"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": [raw]}
        httpx.post(self.node_url, json=body, timeout=10).raise_for_status()


def _transactions(method: str, params: list[Any]) -> list[str]:
    first = params[0] if params and isinstance(params[0], dict) else {}
    if method == "eth_sendBundle":
        return list(first.get("txs", []))
    return [first["tx"]] if "tx" in first else []


@contextmanager
def relay_server(node_url: str, mode: Mode = "forward") -> Iterator[RelayServer]:
    relay = RelayServer(node_url, mode)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            call = json.loads(self.rfile.read(int(self.headers["content-length"])))
            reply = {"jsonrpc": "2.0", "id": call.get("id")}
            reply |= relay.handle(call["method"], call.get("params", []))
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    relay.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield relay
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def unreachable_url() -> str:
    """A loopback URL with nothing listening (the port was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"
