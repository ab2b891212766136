"""A real uvicorn server over the example desk, on a free loopback port, in a thread."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from zkrisk.engine.api.config import Secrets, ServeConfig
from zkrisk.engine.api.server import build_server
from zkrisk.engine.api.service import RiskService

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOW = 1_795_183_200  # the example snapshot's time (a Friday, 14:00 UTC: inside the window)
SIGNER_KEY = "0x" + "5e" * 32
TOKEN = "test-kill-switch-token-0123456789"
ACCOUNT = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"


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
    }
    fields.update(overrides)
    return ServeConfig(**fields)


@dataclass
class Running:
    url: str
    service: RiskService
    http: httpx.Client

    def check(self, body: dict[str, Any], **extra: Any) -> httpx.Response:
        return self.http.post("/v1/orders/check", json={"order": body, **extra})

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
