"""Helpers for the ingest tests: a config, a run-until loop, the journal's market data."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from zkrisk.engine.journal.events import Quarantined, Quote, Recorded, Trade
from zkrisk.engine.journal.sqlite import SQLiteJournal
from zkrisk.engine.pipeline.feed_server import FeedServer, Published
from zkrisk.engine.pipeline.ingest import Ingest
from zkrisk.engine.pipeline.ingest_config import IngestConfig

SYMBOLS = ("WETH", "WBTC", "LINK")


def ws_config(*urls: str, **over: Any) -> IngestConfig:
    names = ["feed", "backup", "third"]
    source = {"kind": "websocket", "max_age_ms": 60_000, "max_silence_ms": 60_000,
              "backoff_ms": 20, "max_backoff_ms": 200}  # fmt: skip
    source.update(over.pop("source", {}))
    return IngestConfig(symbols=SYMBOLS, gap_threshold=1_000,
                        sources=[{**source, "name": n, "url": u} for n, u in zip(names, urls, strict=False)],
                        **over)  # fmt: skip


async def run_until(
    ingest: Ingest,
    done: Callable[[], bool],
    *,
    before: Callable[[], Awaitable[None]] | None = None,
    timeout: float = 20.0,
) -> None:
    """Run `ingest` (then `before()`, e.g. publishing) until `done()` holds with nothing
    pending, then stop it."""
    stop = asyncio.Event()
    task = asyncio.create_task(ingest.run(stop))
    if before is not None:
        await before()
    deadline = time.monotonic() + timeout
    try:
        while not (done() and ingest.queue.empty() and not ingest.pending):
            if time.monotonic() > deadline:
                raise AssertionError(f"ingest did not finish in {timeout} s: {ingest.snapshot()}")
            if task.done():
                task.result()
                return
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await task


def publisher(server: FeedServer, count: int) -> Callable[[], Awaitable[None]]:
    """Publish `count` messages once a client is subscribed (a fresh client joins live)."""

    async def publish() -> None:
        await server.subscribed()
        server.publish(count)
        server.flush()

    return publish


def heads_reach(ingest: Ingest, source: str, truth: list[Published]) -> Callable[[], bool]:
    def done() -> bool:
        want: dict[str, int] = {}
        for p in truth:
            want[p.symbol] = max(want.get(p.symbol, 0), p.seq)
        have = ingest.reorder[source].heads()
        return bool(want) and all(have.get(s, 0) >= n for s, n in want.items())

    return done


def market_data(journal: SQLiteJournal, source: str) -> list[Recorded]:
    return list(journal.iter_from(0, streams=[f"md.{source}"]))


def seqs(records: list[Recorded], symbol: str) -> list[int | None]:
    out = []
    for r in records:
        assert isinstance(r.event, Quote | Trade)
        if r.event.symbol == symbol:
            out.append(r.event.source_seq)
    return out


def quarantined(journal: SQLiteJournal) -> list[Quarantined]:
    return [r.event for r in journal.iter_from(0, streams=["ingest"])
            if isinstance(r.event, Quarantined)]  # fmt: skip
