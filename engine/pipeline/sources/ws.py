"""The WebSocket market-data client: subscribe with resume points, reconnect with backoff.

On every connect it sends `{"op": "subscribe", "symbols": [...], "resume": {symbol: seq}}`
(resume: the last sequence ingest holds per symbol; the server resends what follows) and then
yields every text frame it receives. A lost connection or a refused handshake is a `Link` down;
the next attempt waits `backoff_s · 2^attempt` (capped at `max_backoff_s`) times a random factor
in [0.5, 1.0] (full jitter would let a fleet of clients retry in lockstep after a server restart;
half jitter keeps them spread and the wait bounded below).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Collection

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from ...journal.crashpoints import crash_point
from .base import Item, Link, RawMessage, ResumePoints

MAX_FRAME_BYTES = 1 << 16


def backoff_delay(attempt: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """The wait before reconnect attempt `attempt` (0-based), with half jitter."""
    return float(min(cap_s, base_s * 2.0**attempt) * rng.uniform(0.5, 1.0))


def subscribe_message(symbols: Collection[str], resume: dict[str, int]) -> str:
    return json.dumps({"op": "subscribe", "symbols": sorted(symbols), "resume": resume})


class WebSocketSource:
    def __init__(
        self,
        name: str,
        url: str,
        symbols: Collection[str],
        *,
        resume_points: ResumePoints | None = None,
        backoff_s: float = 0.05,
        max_backoff_s: float = 2.0,
        seed: int | None = None,
    ) -> None:
        self.name, self.url, self.symbols = name, url, frozenset(symbols)
        self.resume_points = resume_points or dict
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s
        self._rng = random.Random(seed)
        self._ws: ClientConnection | None = None
        self._closed = False
        self.connects = 0

    async def connect(self) -> None:
        self._closed = False

    async def _open(self) -> ClientConnection:
        ws = await connect(self.url, max_size=MAX_FRAME_BYTES, open_timeout=2, ping_interval=5)
        resume = {s: seq for s, seq in self.resume_points().items() if s in self.symbols}
        await ws.send(subscribe_message(self.symbols, resume))
        return ws

    async def stream(self) -> AsyncIterator[Item]:
        attempt = 0
        while not self._closed:
            try:
                self._ws = await self._open()
            except (OSError, InvalidHandshake, TimeoutError, ConnectionClosed) as exc:
                yield Link(self.name, False, f"connect to {self.url} failed: {exc}", time.time_ns())
                await self._wait(attempt)
                attempt += 1
                continue
            attempt = 0
            self.connects += 1
            yield Link(self.name, True, f"connected to {self.url}", time.time_ns())
            try:
                async for frame in self._ws:
                    text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
                    yield RawMessage(self.name, text, time.time_ns())
                detail = "server closed the connection"
            except (ConnectionClosed, OSError) as exc:
                detail = f"connection lost: {exc}"
            self._ws = None
            if self._closed:
                return
            yield Link(self.name, False, detail, time.time_ns())
            await self._wait(attempt)
            attempt += 1

    async def _wait(self, attempt: int) -> None:
        await asyncio.sleep(backoff_delay(attempt, self.backoff_s, self.max_backoff_s, self._rng))
        crash_point("ingest.reconnect")

    async def close(self) -> None:
        self._closed = True
        if self._ws is not None:
            await self._ws.close()
