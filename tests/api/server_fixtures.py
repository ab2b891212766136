"""A real uvicorn server over the example desk, on a free loopback port, in a thread."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from zkrisk.engine.api.auth import hash_key
from zkrisk.engine.api.config import ApiKeyConfig, Secrets, ServeConfig
from zkrisk.engine.api.server import build_server
from zkrisk.engine.api.service import RiskService

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOW = 1_795_183_200  # the example snapshot's time (a Friday, 14:00 UTC: inside the window)
SIGNER_KEY = "0x" + "5e" * 32
TOKEN = "test-kill-switch-token-0123456789"
ACCOUNT = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
API_KEY = "test-desk-a-api-key-0123456789"


def order(**overrides: Any) -> dict[str, Any]:
    """BUY 10 WETH at 3015 on binance: every example rule passes."""
    body: dict[str, Any] = {
        "client_order_id": "o-1",
        "symbol": "WETH",
        "side": "BUY",
        "quantity": "10",
        "limit_price": "3015",
        "counterparty": "binance",
    }
    body.update(overrides)
    return body


def desk_folder(folder: Path, policy_edits: dict[str, str] | None = None) -> Path:
    """The example inputs copied into `folder` (policy lines optionally replaced)."""
    for name in ("assets.toml", "prices.toml", "portfolio.toml", "scenarios.csv"):
        shutil.copy(EXAMPLES / name, folder / name)
    policy = (EXAMPLES / "policy.toml").read_text()
    for old, new in (policy_edits or {}).items():
        assert old in policy
        policy = policy.replace(old, new)
    (folder / "policy.toml").write_text(policy)
    return folder


def config_for(folder: Path, **overrides: Any) -> ServeConfig:
    fields: dict[str, Any] = {
        "policy_file": folder / "policy.toml",
        "assets_file": folder / "assets.toml",
        "prices_file": folder / "prices.toml",
        "portfolio_files": (folder / "portfolio.toml",),
        "scenarios_file": folder / "scenarios.csv",
        "audit_db": folder / "audit.sqlite",
        "port": 0,
        "replay_now": NOW,
        "log_level": "warning",
        "state_db": folder / "state.sqlite",
        "api_keys": (ApiKeyConfig(name="desk-a", sha256=hash_key(API_KEY)),),
    }
    fields.update(overrides)
    return ServeConfig(**fields)


@dataclass
class Running:
    url: str
    service: RiskService
    http: httpx.Client

    def check(self, body: dict[str, Any], **extra: Any) -> httpx.Response:
        return self.http.post("/v1/orders/check", json={"order": body, **extra},
                              headers={"X-API-Key": API_KEY})  # fmt: skip

    def kill(self, token: str | None = TOKEN, **body: Any) -> httpx.Response:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        return self.http.post("/v1/killswitch", json=body or None, headers=headers)


@contextmanager
def running_server(config: ServeConfig) -> Iterator[Running]:
    """Start uvicorn on a free port, yield a client, stop it and wait for the thread."""
    server, service = build_server(config, Secrets(SIGNER_KEY, TOKEN))
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=10) as http:
            yield Running(url, service, http)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# -- a real `zkrisk serve` process (for attacks that could hang or crash it, and restarts) -----

SERVE_TOML = """\
policy_file = "policy.toml"
assets_file = "assets.toml"
prices_file = "prices.toml"
portfolio_files = ["portfolio.toml"]
scenarios_file = "scenarios.csv"
audit_db = "audit.sqlite"
replay_now = {now}
log_level = "warning"
{extra}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Process:
    url: str
    proc: subprocess.Popen[str]
    http: httpx.Client

    def check(self, body: dict[str, Any], **extra: Any) -> httpx.Response:
        return self.http.post("/v1/orders/check", json={"order": body, **extra})

    def post_raw(self, content: bytes | str) -> httpx.Response:
        return self.http.post("/v1/orders/check", content=content,
                              headers={"content-type": "application/json"})  # fmt: skip

    def alive(self) -> bool:
        """The process still runs and answers /healthz within a second."""
        if self.proc.poll() is not None:
            return False
        try:
            return self.http.get("/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False


@contextmanager
def serve_process(folder: Path, extra_toml: str = "", *, now: int = NOW) -> Iterator[Process]:
    """`zkrisk serve` in a subprocess over `folder`; stopped with SIGTERM (SIGKILL after 10 s)."""
    config = folder / "serve.toml"
    config.write_text(SERVE_TOML.format(now=now, extra=extra_toml))
    port = free_port()
    env = {**os.environ, "ZKRISK_SIGNER_KEY": SIGNER_KEY, "ZKRISK_KILLSWITCH_TOKEN": TOKEN}
    proc = subprocess.Popen(
        [sys.executable, "-m", "zkrisk.engine.cli", "serve", "--config", str(config),
         "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    headers = {"X-API-Key": API_KEY}
    try:
        with httpx.Client(base_url=url, timeout=5, headers=headers) as http:
            running = Process(url, proc, http)
            deadline = time.monotonic() + 30
            while not running.alive():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"zkrisk serve did not start: {proc.communicate()[0]}")
                time.sleep(0.05)
            yield running
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


AUTH_TOML = f"""
state_db = "state.sqlite"
[[api_keys]]
name = "desk-a"
sha256 = "{hash_key(API_KEY)}"
"""
