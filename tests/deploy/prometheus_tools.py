"""Real Prometheus, Alertmanager and a webhook sink for the alerting tests (no mocks).

The binaries are Debian's (`make setup` installs them as root); tests skip when they are absent.
Every process gets free loopback ports and its own temp storage, and is killed on exit.
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ALERTMANAGER = "prometheus-alertmanager"
MISSING = (
    "needs Debian's prometheus and prometheus-alertmanager on PATH ({}): "
    "`make setup` installs them when run as root, or apt-get install -y prometheus "
    "prometheus-alertmanager"
)


def require(*binaries: str) -> pytest.MarkDecorator:
    """Skip the test, saying what to install, when one of `binaries` is not on PATH."""
    missing = [b for b in binaries if shutil.which(b) is None]
    return pytest.mark.skipif(bool(missing), reason=MISSING.format(", ".join(missing) or "-"))


def tool(*args: str) -> subprocess.CompletedProcess[str]:
    """Run promtool / amtool from deploy/ (their relative paths resolve there)."""
    return subprocess.run(args, cwd=DEPLOY, capture_output=True, text=True, timeout=60)


@contextmanager
def daemon(args: list[str], ready_url: str, log: Path, timeout: float = 20) -> Iterator[None]:
    """Start `args`, wait until `ready_url` answers 200, and kill the process on exit."""
    with log.open("w") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while not _answers(ready_url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{args[0]} did not become ready: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


class WebhookSink:
    """An HTTP server that keeps every JSON body POSTed to it (Alertmanager's webhook)."""

    def __init__(self) -> None:
        received: queue.Queue[dict[str, Any]] = queue.Queue()
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received.put(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep the test output clean

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    def wait_for(self, alertname: str, status: str, timeout: float) -> dict[str, Any]:
        """The first alert named `alertname` in state `status` posted within `timeout` s."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                body = self.received.get(timeout=left)
            except queue.Empty:
                break
            for alert in body.get("alerts", []):
                if alert["labels"].get("alertname") == alertname and alert["status"] == status:
                    return dict(alert)
        raise AssertionError(f"no {status} {alertname} reached the webhook in {timeout} s")
