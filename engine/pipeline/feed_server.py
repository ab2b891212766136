"""The market-data WebSocket server zkrisk ships for demos and tests, with a fault injector.

It publishes quotes and trades (a seeded random walk for WETH and WBTC, or the rows of a recorded
file, replayed in a loop) with per-symbol sequence numbers starting at 1, each stamped with the
time it was published. A client subscribes with `{"op": "subscribe", "symbols": [...],
"resume": {symbol: seq}}`: the server first resends what it still holds after each resume point
(in sequence order), then streams live.

Faults, decided by a seeded generator at publication (so a resend carries the same text):
- `corrupt_rate`: the message is replaced by a bad one (bid ≥ ask, size ≤ 0, NaN, an unknown
  field, a wrong type, a truncated frame); `truth` records which and the reason ingest must give;
- `duplicate_rate`: the frame is sent twice (the copy one to three frames later);
- `reorder_rate`: the frame is held back and sent one to three frames later.
Outages (`outage(seconds, mode)`): "silent" stops publishing and sending, "close" closes every
connection and refuses new ones (HTTP 503) until the outage ends.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from http import HTTPStatus
from pathlib import Path
from typing import Literal

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .sources.recorded import read_lines
from .validate import Reason

DEMO_SYMBOLS = ("WETH", "WBTC")
START_PRICES = {"WETH": Decimal("3000"), "WBTC": Decimal("60000")}
HISTORY = 200_000
"""Frames kept for resends (per server): a client resuming from further back gets a gap."""


@dataclass(frozen=True)
class Faults:
    duplicate_rate: float = 0.0
    reorder_rate: float = 0.0
    corrupt_rate: float = 0.0
    seed: int = 7

    def __post_init__(self) -> None:
        for name in ("duplicate_rate", "reorder_rate", "corrupt_rate"):
            rate = getattr(self, name)
            if not 0 <= rate <= 1:
                raise ValueError(f"{name} {rate} must be within [0, 1]")


@dataclass(frozen=True, slots=True)
class Published:
    """Ground truth for tests: what the server meant to send as `seq` of `symbol`."""

    symbol: str
    seq: int
    text: str
    valid: bool
    reason: Reason | None
    """The quarantine reason ingest must give for a corrupted message."""
    seq_readable: bool = True
    """False for a truncated frame: ingest cannot know its sequence (it becomes a gap)."""


def _corrupt(data: dict[str, object], rng: random.Random) -> tuple[str, Reason, bool]:
    bad = dict(data)
    kind = rng.randrange(6)
    if kind == 0 and "bid" in bad:
        bad["bid"] = bad["ask"]
        return json.dumps(bad), Reason.BID_NOT_BELOW_ASK, True
    if kind == 1:
        bad["bid_size" if "bid_size" in bad else "size"] = "-1"
        return json.dumps(bad), Reason.NON_POSITIVE_SIZE, True
    if kind == 2:
        bad["ask" if "ask" in bad else "price"] = "NaN"
        return json.dumps(bad), Reason.NOT_FINITE, True
    if kind == 3:
        bad["venue_flag"] = 1
        return json.dumps(bad), Reason.MALFORMED, True
    if kind == 4:
        bad["ts_ns"] = str(bad["ts_ns"])
        return json.dumps(bad), Reason.MALFORMED, True
    return json.dumps(data)[:-12], Reason.MALFORMED, False  # a frame cut short: not JSON


class _RandomWalk:
    def __init__(self, symbols: Iterable[str], rng: random.Random) -> None:
        self.rng = rng
        self.prices = {s: START_PRICES.get(s, Decimal("100")) for s in symbols}

    def next(self, symbol: str) -> dict[str, object]:
        rng = self.rng
        p = self.prices[symbol] * (1 + Decimal(rng.randint(-20, 20)) / 10_000)
        p = self.prices[symbol] = p.quantize(Decimal("0.01"))
        if rng.random() < 0.2:
            return {"type": "trade", "symbol": symbol, "price": str(p),
                    "size": str(Decimal(rng.randint(1, 5000)) / 1000),
                    "side": rng.choice(["BUY", "SELL"])}  # fmt: skip
        half = max(Decimal("0.01"), (p / 20_000).quantize(Decimal("0.01")))
        return {"type": "quote", "symbol": symbol, "bid": str(p - half), "ask": str(p + half),
                "bid_size": str(Decimal(rng.randint(1, 9000)) / 1000),
                "ask_size": str(Decimal(rng.randint(1, 9000)) / 1000)}  # fmt: skip


class _Replay:
    """A recorded file's rows as templates: re-sequenced and re-stamped on publication."""

    def __init__(self, path: Path) -> None:
        self.rows: list[dict[str, object]] = []
        for text in read_lines(path):
            row = json.loads(text)
            row.pop("seq", None)
            row.pop("ts_ns", None)
            self.rows.append(row)
        if not self.rows:
            raise ValueError(f"{path}: no messages to replay")
        self.i = 0

    def next(self) -> dict[str, object]:
        row = self.rows[self.i % len(self.rows)]
        self.i += 1
        return dict(row)


@dataclass(eq=False)
class _Client:
    ws: ServerConnection
    symbols: frozenset[str]
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    dropped: bool = False


class FeedServer:
    """In-process: `async with FeedServer(...) as server:` then `publish(n)` or `run(rate)`."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        symbols: Iterable[str] = DEMO_SYMBOLS,
        file: Path | None = None,
        faults: Faults = Faults(),
        keep_truth: bool = True,
    ) -> None:
        """`keep_truth`: record every publication in `truth` (tests read it); `zkrisk feed
        serve` runs for hours and reads none of it, so it does not keep one: a list growing by
        a thousand objects a second also made the server's full garbage collections longer
        and longer, each a pause in the feed that its clients received as a burst."""
        self.host, self.port = host, port
        self.keep_truth = keep_truth
        self.faults = faults
        self._rng = random.Random(faults.seed)
        self._replay = None if file is None else _Replay(file)
        self.symbols = tuple(symbols) if self._replay is None else tuple(
            dict.fromkeys(str(r["symbol"]) for r in self._replay.rows)
        )  # fmt: skip
        self._walk = _RandomWalk(self.symbols, random.Random(faults.seed + 1))
        self._seq = dict.fromkeys(self.symbols, 0)
        self._frames: deque[tuple[int, str]] = deque()  # (frame index, text)
        self._frame_count = 0
        self._pending: list[tuple[int, str]] = []  # (frames to wait, text): reorders and copies
        self.history: dict[str, deque[tuple[int, str]]] = {s: deque() for s in self.symbols}
        self.truth: list[Published] = []
        self._clients: set[_Client] = set()
        self._down_until = 0.0
        self._silent_until = 0.0
        self._server: Server | None = None
        self._turn = 0

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    async def __aenter__(self) -> FeedServer:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self._server = await serve(self._handle, self.host, self.port,
                                   process_request=self._gate, max_size=1 << 16)  # fmt: skip
        self.port = int(next(iter(self._server.sockets)).getsockname()[1])

    async def stop(self) -> None:
        self._drop_clients()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # --- publication ---------------------------------------------------------------------------

    def _next_message(self) -> dict[str, object]:
        if self._replay is not None:
            return self._replay.next()
        symbol = self.symbols[self._turn % len(self.symbols)]
        self._turn += 1
        return self._walk.next(symbol)

    def _publish_one(self) -> None:
        data = self._next_message()
        symbol = str(data["symbol"])
        self._seq[symbol] += 1
        seq = self._seq[symbol]
        data = {"type": data.pop("type"), "symbol": symbol, "seq": seq, "ts_ns": time.time_ns(),
                **{k: v for k, v in data.items() if k != "symbol"}}  # fmt: skip
        rng, f = self._rng, self.faults
        if rng.random() < f.corrupt_rate:
            text, reason, readable = _corrupt(data, rng)
            if self.keep_truth:
                self.truth.append(Published(symbol, seq, text, False, reason, readable))
        else:
            text = json.dumps(data, separators=(",", ":"))
            if self.keep_truth:
                self.truth.append(Published(symbol, seq, text, True, None))
        history = self.history[symbol]
        history.append((seq, text))
        if len(history) > HISTORY:
            history.popleft()
        if rng.random() < f.reorder_rate:
            self._pending.append((rng.randint(1, 3), text))
        else:
            self._emit(text)
        if rng.random() < f.duplicate_rate:
            self._pending.append((rng.randint(1, 3), text))

    def _emit(self, text: str) -> None:
        self._frame_count += 1
        self._frames.append((self._frame_count, text))
        if len(self._frames) > HISTORY:
            self._frames.popleft()
        due = [t for n, t in self._pending if n <= 1]
        self._pending = [(n - 1, t) for n, t in self._pending if n > 1]
        for t in due:
            self._frame_count += 1
            self._frames.append((self._frame_count, t))

    def flush(self) -> None:
        """Send what the reorder / duplicate faults still hold back."""
        for _n, t in self._pending:
            self._frame_count += 1
            self._frames.append((self._frame_count, t))
        self._pending = []
        self._wake()

    def publish(self, count: int) -> None:
        """Publish `count` messages now (round-robin over the symbols, or the file's rows)."""
        for _ in range(count):
            self._publish_one()
        self._wake()

    async def run(self, rate_hz: float, count: int | None = None, *, burst: int = 1) -> None:
        """Publish at `rate_hz`, forever or `count` messages, `burst` at a time, each burst at
        its own deadline on one schedule (start + k·burst/rate). A thread keeps the schedule
        (`_pace`): the event loop's timers wake in whole milliseconds, late by up to one, so at
        1,000/s a loop-timed publisher sent a sixth of its quotes back to back with the one
        before, and a client measured the publisher's jitter. A silent outage publishes
        nothing and the schedule restarts when it ends."""
        if rate_hz <= 0:
            raise ValueError(f"rate {rate_hz} Hz must be > 0")
        if burst < 1:
            raise ValueError(f"burst {burst} must be ≥ 1")
        loop = asyncio.get_running_loop()
        stop = threading.Event()
        try:
            await asyncio.to_thread(self._pace, loop, stop, rate_hz, count, burst)
        finally:
            stop.set()
        self.flush()

    def _pace(
        self,
        loop: asyncio.AbstractEventLoop,
        stop: threading.Event,
        rate_hz: float,
        count: int | None,
        burst: int,
    ) -> None:
        """The publisher's clock (a thread): sleep to each deadline, then have the loop publish
        what is due (`publish` runs on the loop, which owns the server's state)."""
        start, sent, scheduled = time.monotonic(), 0, 0
        while not stop.is_set() and (count is None or sent < count):
            time.sleep(max(0.0, start + (scheduled + burst) / rate_hz - time.monotonic()))
            if self.silent:
                start, scheduled = time.monotonic(), 0
                continue
            due = int((time.monotonic() - start) * rate_hz / burst) * burst - scheduled
            n = due if count is None else min(due, count - sent)
            scheduled += due
            if n > 0:
                try:
                    loop.call_soon_threadsafe(self.publish, n)
                except RuntimeError:  # the loop has closed: nothing is left to publish to
                    return
                sent += n

    def _wake(self) -> None:
        for client in self._clients:
            client.wake.set()

    # --- outages -------------------------------------------------------------------------------

    async def outage(self, seconds: float, mode: Literal["silent", "close"] = "close") -> None:
        """Start an outage of `seconds` (returns at once; the outage ends by itself)."""
        until = time.monotonic() + seconds
        if mode == "silent":
            self._silent_until = until
            return
        self._down_until = until
        clients = self._drop_clients()
        await asyncio.gather(*(c.ws.close(1012, "outage") for c in clients))

    def _drop_clients(self) -> list[_Client]:
        clients = list(self._clients)
        for client in clients:
            client.dropped = True
            client.wake.set()
        return clients

    async def subscribed(self, clients: int = 1, timeout: float = 10.0) -> None:
        """Wait until `clients` clients are subscribed (tests publish after this)."""
        async with asyncio.timeout(timeout):
            while len(self._clients) < clients:
                await asyncio.sleep(0.005)

    @property
    def down(self) -> bool:
        return time.monotonic() < self._down_until

    @property
    def silent(self) -> bool:
        return time.monotonic() < self._silent_until

    def _gate(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.down:
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "feed outage\n")
        return None

    # --- clients -------------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        try:
            first = await asyncio.wait_for(ws.recv(), timeout=5)
            symbols, resume = self._parse_subscribe(first)
        except (ValueError, TypeError, TimeoutError) as exc:
            await ws.close(1008, f"bad subscribe: {exc}"[:120])
            return
        except ConnectionClosed:
            return
        client = _Client(ws, symbols)
        self._clients.add(client)
        try:
            cursor = self._frame_count  # live from here; resends first
            for symbol, after in sorted(resume.items()):
                for seq, text in list(self.history.get(symbol, ())):
                    if seq > after:
                        await ws.send(text)
            await self._stream(client, cursor)
        except ConnectionClosed:
            pass
        finally:
            self._clients.discard(client)

    def _parse_subscribe(self, frame: str | bytes) -> tuple[frozenset[str], dict[str, int]]:
        msg = json.loads(frame)
        if not isinstance(msg, dict) or msg.get("op") != "subscribe":
            raise ValueError('expected {"op": "subscribe", "symbols": [...], "resume": {...}}')
        symbols = frozenset(msg.get("symbols") or self.symbols)
        resume = msg.get("resume") or {}
        if not all(isinstance(v, int) and v >= 0 for v in resume.values()):
            raise ValueError("resume maps each symbol to a sequence number ≥ 0")
        return symbols, {k: v for k, v in resume.items() if k in symbols}

    async def _stream(self, client: _Client, cursor: int) -> None:
        while not client.dropped:
            client.wake.clear()
            if self.silent:
                await asyncio.sleep(0.01)
                continue
            batch = self._frames_after(cursor)
            if batch:
                cursor = self._frame_count
                for text in batch:
                    if self._wanted(client, text):
                        await client.ws.send(text)
                continue
            await client.wake.wait()

    def _frames_after(self, cursor: int) -> list[str]:
        if not self._frames or self._frames[-1][0] <= cursor:
            return []
        first = self._frames[0][0]
        skip = max(0, cursor - first + 1)
        return [t for _n, t in itertools.islice(self._frames, skip, None)]

    @staticmethod
    def _wanted(client: _Client, text: str) -> bool:
        # The symbol sits right after the type in every frame the server builds; a truncated
        # frame may not show it, and is sent to everyone (it is a corrupt frame for all).
        start = text.find('"symbol":')
        if start < 0:
            return True
        rest = text[start + 9 :].lstrip(' "')
        return any(rest.startswith(s + '"') for s in client.symbols)
