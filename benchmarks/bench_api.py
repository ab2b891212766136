"""Approval API: p99 / median latency of POST /v1/orders/check at 200 requests/s on loopback.

A real `zkrisk serve` runs in a subprocess over the example desk (fresh price timestamps, the
real clock). The client fires an open-loop schedule — request i is due at t0 + i / rate whatever
happened before — and measures each latency from its due time, so a stall is not hidden by the
requests it delayed (no coordinated omission). Every check is a full approval: all rules,
EIP-712 signature, audit row in SQLite.

Every check carries an API key (`X-API-Key`), as the service requires. `api_bad_input_p99_ms`
is the p99 over the hostile requests of issue 18 (huge exponents as numbers and strings,
NaN / ±Infinity, JSON nested too deep, 100,000 deep in 200 kB, a 1 MB body, no API key), each
sent 20 times on a fresh connection: every one must be answered with its 4xx at once.

Two clients fire the same schedule. `api_check_*` uses a lean HTTP/1.1 client over asyncio
streams (8 keep-alive connections, ~0.1 ms of CPU per request) so that on 2 shared cores the
load generator does not crowd out the server it measures; `api_check_httpx_p99_ms` repeats the
run with httpx (~1.5 ms of CPU per request on the same cores, 8 connections: a larger pool makes
httpcore slower still), an upper bound that includes a typical Python client's own cost.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpx

from zkrisk.engine.api.auth import hash_key

from .common import Metric, metric

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
RATE = 200  # requests per second
WARMUP_S, MEASURE_S = 1.0, 5.0
CONNECTIONS = 8
API_KEY = "bench-desk-api-key-0123456789abcdef"
BAD_REPEATS = 20


def _run_async(coro: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:  # uvloop is not on Windows
        return asyncio.run(coro)
    return uvloop.run(coro)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _desk(folder: Path, now: int) -> Path:
    for name in ("assets.toml", "portfolio.toml", "scenarios.csv"):
        shutil.copy(EXAMPLES / name, folder / name)
    prices = (EXAMPLES / "prices.toml").read_text()
    prices = re.sub(r"timestamp = \d+", f"timestamp = {now}", prices)
    (folder / "prices.toml").write_text(prices)
    # The example policy, minus the trading window and with room for 200 orders a second.
    policy = (EXAMPLES / "policy.toml").read_text().split("[trading_window]")[0]
    policy = policy.replace("max_orders_per_window = 20", "max_orders_per_window = 100_000")
    (folder / "policy.toml").write_text(policy)
    config = folder / "serve.toml"
    config.write_text(
        'policy_file = "policy.toml"\nassets_file = "assets.toml"\nprices_file = "prices.toml"\n'
        'portfolio_files = ["portfolio.toml"]\nscenarios_file = "scenarios.csv"\n'
        'audit_db = "audit.sqlite"\nstate_db = "state.sqlite"\nlog_level = "warning"\n'
        f'[[api_keys]]\nname = "bench"\nsha256 = "{hash_key(API_KEY)}"\n'
    )
    return config


def _order(i: int) -> dict[str, Any]:
    return {"order": {"client_order_id": f"bench-{i}", "symbol": "WETH", "side": "BUY",
                      "quantity": "1", "limit_price": "3015", "counterparty": "binance"}}  # fmt: skip


Result = tuple[list[float], dict[str, int]]


def _kind(status: int, body: bytes) -> str:
    return str(json.loads(body)["verdict"]["kind"]) if status == 200 else f"HTTP {status}"


async def _fire_httpx(url: str, count: int, start_id: int) -> Result:
    latencies: list[float] = []
    kinds: dict[str, int] = {}
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10) as client:

        async def one(i: int, due: float) -> None:
            await asyncio.sleep(max(due - time.perf_counter(), 0))
            response = await client.post(
                "/v1/orders/check", json=_order(start_id + i), headers={"X-API-Key": API_KEY}
            )
            latencies.append((time.perf_counter() - due) * 1000)
            kind = _kind(response.status_code, response.content)
            kinds[kind] = kinds.get(kind, 0) + 1

        t0 = time.perf_counter() + 0.05
        await asyncio.gather(*(one(i, t0 + i / RATE) for i in range(count)))
    return latencies, kinds


async def _fire_raw(url: str, count: int, start_id: int) -> Result:
    """The same schedule over raw keep-alive HTTP/1.1: a queue of open connections."""
    host, port = url.removeprefix("http://").split(":")
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(CONNECTIONS):
        pool.put_nowait(await asyncio.open_connection(host, int(port)))
    latencies: list[float] = []
    kinds: dict[str, int] = {}

    async def one(i: int, due: float) -> None:
        body = json.dumps(_order(start_id + i)).encode()
        head = (f"POST /v1/orders/check HTTP/1.1\r\nHost: {host}\r\nContent-Type: "
                f"application/json\r\nX-API-Key: {API_KEY}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()  # fmt: skip
        await asyncio.sleep(max(due - time.perf_counter(), 0))
        reader, writer = await pool.get()
        writer.write(head + body)
        status_line, _, headers = (await reader.readuntil(b"\r\n\r\n")).partition(b"\r\n")
        length = int(re.search(rb"(?i)content-length: *(\d+)", headers)[1])  # type: ignore[index]
        payload = await reader.readexactly(length)
        pool.put_nowait((reader, writer))
        latencies.append((time.perf_counter() - due) * 1000)
        kind = _kind(int(status_line.split()[1]), payload)
        kinds[kind] = kinds.get(kind, 0) + 1

    t0 = time.perf_counter() + 0.05
    await asyncio.gather(*(one(i, t0 + i / RATE) for i in range(count)))
    while not pool.empty():
        _, writer = pool.get_nowait()
        writer.close()
        await writer.wait_closed()
    return latencies, kinds


def _bad_requests() -> dict[str, tuple[bytes, int, bool]]:
    """name → (body, expected status, send the API key)."""
    order = json.dumps(_order(0))

    def quantity(literal: str) -> bytes:
        return order.replace('"quantity": "1"', f'"quantity": {literal}').encode()

    deep = b'{"order": ' + b"[" * 100_000 + b"1" + b"]" * 100_000 + b"}"
    big = json.dumps({"order": {**_order(0)["order"], "counterparty": "x" * 1_000_000}})
    return {
        "1e999999999": (quantity("1e999999999"), 422, True),
        '"1e-999999999"': (quantity('"1e-999999999"'), 422, True),
        "NaN": (quantity("NaN"), 422, True),
        "Infinity": (quantity("Infinity"), 422, True),
        "-Infinity": (quantity("-Infinity"), 422, True),
        "depth 9": (b'{"order": ' + b"[" * 8 + b"1" + b"]" * 8 + b"}", 422, True),
        "100,000 deep": (deep, 413, True),
        "1 MB body": (big.encode(), 413, True),
        "no API key": (order.encode(), 401, False),
    }


async def _fire_bad(url: str) -> tuple[list[float], dict[str, int]]:
    """Each hostile request BAD_REPEATS times, one at a time, each on a new connection."""
    host, port = url.removeprefix("http://").split(":")
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    for name, (body, expected, keyed) in _bad_requests().items():
        key = f"X-API-Key: {API_KEY}\r\n" if keyed else ""
        head = (f"POST /v1/orders/check HTTP/1.1\r\nHost: {host}\r\nContent-Type: "
                f"application/json\r\n{key}Content-Length: {len(body)}\r\n\r\n").encode()  # fmt: skip
        for _ in range(BAD_REPEATS):
            reader, writer = await asyncio.open_connection(host, int(port))
            started = time.perf_counter()
            # The first 64 kB only: a refused body is never read, so the rest never matters.
            writer.write(head + body[:65_536])
            status = int((await reader.readuntil(b"\r\n")).split()[1])
            latencies.append((time.perf_counter() - started) * 1000)
            writer.close()
            statuses[name] = status
            if status != expected:
                raise RuntimeError(f"{name}: HTTP {status}, expected {expected}")
    return latencies, statuses


def _p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"zkrisk serve exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("zkrisk serve did not answer /healthz within 30 s")


def run() -> dict[str, Metric]:
    with tempfile.TemporaryDirectory(prefix="zkrisk-bench-api-") as tmp:
        config = _desk(Path(tmp), int(time.time()))
        port = _free_port()
        env = {**os.environ, "ZKRISK_SIGNER_KEY": "0x" + "5e" * 32,
               "ZKRISK_KILLSWITCH_TOKEN": "bench-token-0123456789"}  # fmt: skip
        proc = subprocess.Popen(
            [sys.executable, "-m", "zkrisk.engine.cli", "serve", "--config", str(config),
             "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url, proc)
            count = int(RATE * MEASURE_S)
            _run_async(_fire_raw(url, int(RATE * WARMUP_S), 0))
            latencies, kinds = _run_async(_fire_raw(url, count, 1_000_000))
            httpx_latencies, httpx_kinds = _run_async(_fire_httpx(url, count, 2_000_000))
            bad_latencies, _statuses = _run_async(_fire_bad(url))
            if proc.poll() is not None:
                raise RuntimeError("zkrisk serve died under the hostile requests")
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    def note(client: str, found: dict[str, int]) -> str:
        return (
            f"POST /v1/orders/check, {RATE} req/s open loop for {MEASURE_S:g} s on loopback, "
            f"{client}, {CONNECTIONS} connections → uvicorn (one worker); "
            f"{found.get('APPROVE', 0)}/{count} APPROVE with EIP-712 signature and SQLite audit "
            "row; latency from each request's due time"
        )

    lean = note("lean asyncio HTTP/1.1 client", kinds)
    return {
        "api_check_p99_ms": metric(_p99(latencies), "ms", count, lean),
        "api_check_median_ms": metric(statistics.median(latencies), "ms", count, lean),
        "api_check_httpx_p99_ms": metric(
            _p99(httpx_latencies), "ms", count, note("httpx client", httpx_kinds)
        ),
        "api_bad_input_p99_ms": metric(
            _p99(bad_latencies),
            "ms",
            len(bad_latencies),
            f'{len(_bad_requests())} hostile POST /v1/orders/check (1e999999999, "1e-999999999", '
            "NaN, ±Infinity, depth 9, 100,000 deep, 1 MB body, no API key) × "
            f"{BAD_REPEATS}, one at a time on a new connection; each answered with its 4xx "
            "(target ≤ 10 ms)",
        ),
    }


if __name__ == "__main__":
    for name, m in run().items():
        print(f"{name}: {m['value']} {m['unit']}  ({m['note']})")
