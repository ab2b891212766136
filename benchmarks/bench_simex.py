"""Order → ack on the simulated exchange, at 200 orders/s over loopback WebSocket.

`zkrisk simex serve` runs as its own process (its random walk on, no faults). The clock starts
before `SimexVenue.submit` and stops when the `Ack` comes out of `reports()`, for market orders
of 0.001 WETH alternating buy and sell, sent open loop every 5 ms. This is the venue adapter's
path: the pipeline's order stage (journaling OrderSubmitted first) is not in it yet. Baseline in
the same run, just before the orders: a bare websockets round trip (a `ping` request and its
answer, on a connection of its own) to the same server at the same rate, i.e. what the
exchange's matching and the adapter add to the socket.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal

from websockets.asyncio.client import connect

from zkrisk.engine.chain.anvil import free_port
from zkrisk.engine.journal.events import OrderSpec
from zkrisk.engine.pipeline.venues.base import Ack
from zkrisk.engine.pipeline.venues.simex import SimexVenue
from zkrisk.engine.risk.models import Side

from .common import Metric, metric

RATE_HZ = 200
ORDERS = 2_000
WARMUP = 100


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _paced(n: int, send: Callable[[int], Awaitable[None]]) -> None:
    """Call `send(i)` n times, one every 1/RATE_HZ s, on a fixed schedule (open loop)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i in range(n):
        delay = start + i / RATE_HZ - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await send(i)


async def _orders(url: str) -> list[float]:
    venue = SimexVenue(url)
    await venue.connect()
    sent: dict[str, int] = {}
    acked: dict[str, int] = {}

    async def consume() -> None:
        async for report in venue.reports():
            if isinstance(report, Ack) and report.client_order_id not in acked:
                acked[report.client_order_id] = time.perf_counter_ns()

    consumer = asyncio.create_task(consume())

    async def send(i: int) -> None:
        coid = f"bench-{i}"
        order = OrderSpec(client_order_id=coid, venue="simex", symbol="WETH",
                          side=Side.BUY if i % 2 else Side.SELL, quantity=Decimal("0.001"),
                          max_slippage_bps=100, reference_price=Decimal(3000))  # fmt: skip
        sent[coid] = time.perf_counter_ns()
        await venue.submit(order)

    await _paced(WARMUP + ORDERS, send)
    deadline = time.monotonic() + 10
    while len(acked) < len(sent) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    await venue.close()
    await consumer
    missing = len(sent) - len(acked)
    if missing:
        raise RuntimeError(f"{missing} orders got no ack within 10 s")
    return [(acked[c] - sent[c]) / 1e6 for c in itertools.islice(sent, WARMUP, None)]


async def _round_trips(url: str) -> list[float]:
    samples: list[float] = []
    async with connect(url, compression=None) as ws:  # as SimexVenue connects

        async def send(i: int) -> None:
            t0 = time.perf_counter_ns()
            await ws.send(json.dumps({"id": i, "method": "ping", "params": {}}))
            await ws.recv()
            if i >= WARMUP:
                samples.append((time.perf_counter_ns() - t0) / 1e6)

        await _paced(WARMUP + ORDERS, send)
    return samples


async def _measure(url: str) -> tuple[list[float], list[float]]:
    """One after the other, each alone on the server (interleaving them made the pings faster
    than alone: a busier process wakes sooner on this VM)."""
    return await _round_trips(url), await _orders(url)


def _wait_for(port: int) -> None:
    import socket

    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def run() -> dict[str, Metric]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "zkrisk.engine.cli", "simex", "serve",
                               "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        _wait_for(port)
        baseline, orders = asyncio.run(_measure(f"ws://127.0.0.1:{port}"))
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=10)
    load = os.getloadavg()[0]
    p50, p99, base99 = _p(orders, 0.5), _p(orders, 0.99), _p(baseline, 0.99)
    where = (
        f"SimexVenue.submit → Ack from reports(), {RATE_HZ} orders/s, loopback, server in "
        f"its own process; the order stage is not in this path yet; load avg {load:.2f}"
    )
    return {
        "order_to_ack_p50_ms": metric(p50, "ms", len(orders), where),
        "order_to_ack_p99_ms": metric(p99, "ms", len(orders), f"target ≤ 10 ms; {where}"),
        "order_to_ack_baseline_ws_roundtrip_p99_ms": metric(
            base99, "ms", len(baseline),
            f"baseline: a bare websockets ping request → answer to the same server, {RATE_HZ}/s, "
            "just before the orders"),
        "order_to_ack_p99_vs_ws_roundtrip": metric(
            p99 / base99, "×", len(orders), "order_to_ack_p99_ms / baseline"),
    }  # fmt: skip
