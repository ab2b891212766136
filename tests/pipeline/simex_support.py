"""Helpers for the simulated-exchange tests: a server with its adapter, orders, report waits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from zkrisk.engine.journal.events import OrderSpec
from zkrisk.engine.pipeline.venues.base import VenueReport
from zkrisk.engine.pipeline.venues.simex import SimexVenue
from zkrisk.engine.pipeline.venues.simex_server import SimexServer
from zkrisk.engine.risk.models import Side

MIDS = {"WETH": Decimal(3000), "WBTC": Decimal(60_000)}


@asynccontextmanager
async def exchange(**server: Any) -> AsyncIterator[tuple[SimexServer, SimexVenue]]:
    """A real server on a free loopback port (no random walk) and a connected adapter."""
    server.setdefault("mids", MIDS)
    async with SimexServer(**server) as simex:
        venue = SimexVenue(simex.url, backoff_s=0.01, max_backoff_s=0.05)
        await venue.connect()
        try:
            yield simex, venue
        finally:
            await venue.close()


def spec(coid: str, side: Side = Side.BUY, quantity: str = "1", *, limit: str | None = None,
         slippage_bps: int | None = 100, symbol: str = "WETH") -> OrderSpec:  # fmt: skip
    """A market order with a 1% bound by default; `limit` makes it a limit order."""
    return OrderSpec(
        client_order_id=coid, venue="simex", symbol=symbol, side=side,
        quantity=Decimal(quantity), limit_price=None if limit is None else Decimal(limit),
        max_slippage_bps=None if limit is not None else slippage_bps,
        reference_price=MIDS.get(symbol, Decimal(100)),
    )  # fmt: skip


async def collect(
    venue: SimexVenue,
    until: Callable[[list[VenueReport]], bool] | None = None,
    timeout: float = 2.0,
) -> list[VenueReport]:
    """Reports until `until(reports)` holds (AssertionError after `timeout`), or, without
    `until`, every report that arrives within `timeout`."""
    got: list[VenueReport] = []
    stream = venue.reports()
    deadline = time.monotonic() + timeout
    while until is None or not until(got):
        left = deadline - time.monotonic()
        if left <= 0:
            if until is None:
                return got
            raise AssertionError(f"reports did not arrive in {timeout} s; got {got}")
        try:
            got.append(await asyncio.wait_for(stream.__anext__(), left))
        except TimeoutError:
            continue
    return got


def count(kind: type, n: int = 1) -> Callable[[list[VenueReport]], bool]:
    return lambda got: sum(isinstance(r, kind) for r in got) >= n
