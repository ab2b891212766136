"""Order → ack on the simulated exchange, at 200 orders/s over loopback WebSocket.

`zkrisk simex serve` runs as its own process (its random walk on, no faults); market orders of
0.001 WETH alternating buy and sell are sent open loop every 5 ms. Three paths, one after the
other in the same run, each alone on the server:

- the order stage (`order_to_ack_p50_ms` / `_p99_ms`, issue 13's number): the clock starts
  before the order's `OrderSubmitted` is appended to a real SQLite journal and stops when its
  `OrderAccepted` has been journaled and folded (the order ACCEPTED in the pipeline's `Orders`):
  `Pipeline` folds it, `OrderSend` sends it on the fold, its reports task journals the ack (and
  the fills), as in `zkrisk run --venue simex`. The gate before it is not in the path (its
  decision time is `pipeline_decision_*`);
- the adapter alone (`order_to_ack_adapter_*`): `SimexVenue.submit` → the `Ack` out of
  `reports()`, nothing journaled;
- the baseline: a bare websockets round trip (a `ping` request and its answer, on a connection
  of its own) to the same server at the same rate, i.e. what the exchange's matching, the
  adapter and the journal add to the socket.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

from websockets.asyncio.client import connect

from zkrisk.engine.chain.anvil import free_port
from zkrisk.engine.journal.events import Draft, OrderAccepted, OrderSpec, OrderSubmitted, Recorded
from zkrisk.engine.journal.sqlite import SQLiteJournal
from zkrisk.engine.pipeline.order_send import OrderSend
from zkrisk.engine.pipeline.run_config import load_run_config
from zkrisk.engine.pipeline.runner import Pipeline, freeze_start_up_heap
from zkrisk.engine.pipeline.venues.base import Ack
from zkrisk.engine.pipeline.venues.simex import SimexVenue
from zkrisk.engine.risk.models import Side

from .common import Metric, metric

ROOT = Path(__file__).resolve().parents[1]

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
        order = _spec(coid, i)
        sent[coid] = time.perf_counter_ns()
        await venue.submit(order)

    await _paced(WARMUP + ORDERS, send)
    try:
        await _all_acked(sent, acked)
    finally:
        await venue.close()
        await consumer
    return [(acked[c] - sent[c]) / 1e6 for c in itertools.islice(sent, WARMUP, None)]


async def _order_stage(url: str, journal_path: Path) -> tuple[list[float], float]:
    """Intent journaled → sent by OrderSend → ack journaled and folded, ms per order; and the
    process's CPU time per order, ms (journal, folds, send, acks, fills)."""
    run = load_run_config(ROOT / "examples" / "run-simex.toml")
    journal = SQLiteJournal(journal_path)
    pipeline = Pipeline(journal, run)

    append = pipeline.append_and_fold  # the runner's `_append_and_fold`
    venue = SimexVenue(url, account="bench-stage")
    send = OrderSend(venue, pipeline, append, config=run.config.venue.orders,
                     symbols=tuple(run.config.ingest.symbols), reconcile_every_s=3600,
                     tolerance=run.config.venue.reconcile_tolerance)  # fmt: skip
    sent: dict[str, int] = {}
    acked: dict[str, int] = {}

    def on_folded(rec: Recorded) -> None:
        send.on_folded(rec)
        if isinstance(rec.event, OrderAccepted):
            acked.setdefault(rec.event.client_order_id, time.perf_counter_ns())

    pipeline.on_folded = on_folded
    freeze_start_up_heap()  # as `Runner.run_until` does once started
    stop = asyncio.Event()
    task = asyncio.create_task(send.run(stop))
    await asyncio.wait_for(send.connected.wait(), 10)

    async def submit(i: int) -> None:
        coid = f"stage-{i}"
        order = OrderSubmitted(order=_spec(coid, i))
        sent[coid] = time.perf_counter_ns()
        now = time.time_ns()
        append([Draft("orders", f"order:{coid}", order, now, now, f"verdict:{coid}")])

    cpu = time.process_time()
    try:
        await _paced(WARMUP + ORDERS, submit)
        await _all_acked(sent, acked)
        cpu = (time.process_time() - cpu) * 1e3 / len(sent)
    finally:
        stop.set()
        await task
        journal.close()
    return [(acked[c] - sent[c]) / 1e6 for c in itertools.islice(sent, WARMUP, None)], cpu


async def _all_acked(sent: dict[str, int], acked: dict[str, int]) -> None:
    deadline = time.monotonic() + 10
    while len(acked) < len(sent) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    if len(acked) < len(sent):
        raise RuntimeError(f"{len(sent) - len(acked)} orders got no ack within 10 s")


def _spec(coid: str, i: int) -> OrderSpec:
    return OrderSpec(client_order_id=coid, venue="simex", symbol="WETH",
                     side=Side.BUY if i % 2 else Side.SELL, quantity=Decimal("0.001"),
                     max_slippage_bps=100, reference_price=Decimal(3000))  # fmt: skip


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


async def _measure(
    url: str, journal: Path
) -> tuple[list[float], list[float], tuple[list[float], float]]:
    """One after the other, each alone on the server (interleaving them made the pings faster
    than alone: a busier process wakes sooner on this VM)."""
    return await _round_trips(url), await _orders(url), await _order_stage(url, journal)


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
        with tempfile.TemporaryDirectory() as tmp:
            baseline, adapter, (stage, cpu) = asyncio.run(
                _measure(f"ws://127.0.0.1:{port}", Path(tmp) / "journal.db")
            )
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=10)
    load = os.getloadavg()[0]
    p99, base50, base99 = _p(stage, 0.99), _p(baseline, 0.5), _p(baseline, 0.99)
    common = f"{RATE_HZ} orders/s, loopback, server in its own process; load avg {load:.2f}"
    where = ("OrderSubmitted appended to the SQLite journal → OrderSend sends it → "
             f"OrderAccepted journaled and folded (ACCEPTED); {common}")  # fmt: skip
    bare = f"SimexVenue.submit → Ack from reports(), nothing journaled; {common}"
    return {
        "order_to_ack_p50_ms": metric(_p(stage, 0.5), "ms", len(stage), where),
        "order_to_ack_p99_ms": metric(p99, "ms", len(stage), f"target ≤ 10 ms; {where}"),
        "order_to_ack_stage_cpu_ms_per_order": metric(
            cpu, "ms", len(stage) + WARMUP,
            "CPU time of the order stage's process per order (journal appends, folds, send, "
            "ack, fill): above 5 ms, 200 orders/s cannot keep up"),
        "order_to_ack_adapter_p50_ms": metric(_p(adapter, 0.5), "ms", len(adapter), bare),
        "order_to_ack_adapter_p99_ms": metric(_p(adapter, 0.99), "ms", len(adapter), bare),
        "order_to_ack_baseline_ws_roundtrip_p50_ms": metric(
            base50, "ms", len(baseline), "baseline: as the p99 row"),
        "order_to_ack_baseline_ws_roundtrip_p99_ms": metric(
            base99, "ms", len(baseline),
            f"baseline: a bare websockets ping request → answer to the same server, {RATE_HZ}/s, "
            "in the same run"),
        "order_to_ack_p99_vs_ws_roundtrip": metric(
            p99 / base99, "×", len(stage), "order_to_ack_p99_ms (order stage) / baseline p99"),
        "order_to_ack_p50_vs_ws_roundtrip": metric(
            _p(stage, 0.5) / base50, "×", len(stage),
            "order_to_ack_p50_ms (order stage) / baseline p50"),
    }  # fmt: skip
