"""A JSON-RPC pass-through on a fixed port that a test can take down and bring back (an outage)."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

from zkrisk.engine.chain.anvil import free_port


class RpcProxy:
    """Forwards POSTs on http://127.0.0.1:<port> to `upstream`; `down()` refuses connections.
    `answer(request, response)` (raw JSON bodies) False: forwarded, then hung up on unanswered."""

    def __init__(self, upstream: str, answer: Callable[[bytes, bytes], bool] | None = None) -> None:
        self.upstream = upstream
        self.answer = answer
        self.port = free_port()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        upstream, answer = self.upstream, self.answer

        class Forward(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = urllib.request.Request(
                    upstream, data=body, headers={"Content-Type": "application/json"}
                )
                with urllib.request.urlopen(request, timeout=30) as response:
                    data = response.read()
                if answer is not None and not answer(body, data):
                    self.close_connection = True
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Forward)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None


class FailingRpc:
    """A JSON-RPC endpoint that answers only what a keeper asks to start (chain id, client
    version) and a JSON-RPC error to every other call: a node that is up but sick."""

    STARTUP: ClassVar[dict[str, str]] = {
        "eth_chainId": "0x7a69", "web3_clientVersion": "failing-rpc/1", "net_version": "31337",
    }  # fmt: skip

    def __init__(self, error: tuple[int, str] = (-32603, "internal error: the node is sick")):
        self.error = {"code": error[0], "message": error[1]}
        self.port = free_port()
        self.failed: list[str] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FailingRpc:
        owner = self

        class Answer(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                method = str(request.get("method"))
                reply: dict[str, object] = {"jsonrpc": "2.0", "id": request.get("id")}
                if method in owner.STARTUP:
                    reply["result"] = owner.STARTUP[method]
                else:
                    owner.failed.append(method)
                    reply["error"] = owner.error
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Answer)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
