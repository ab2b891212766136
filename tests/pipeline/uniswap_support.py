"""Shared by the Uniswap venue tests: a deployed pool set, a funded trader, a report collector."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from zkrisk.engine.chain.anvil import DEV_PRIVATE_KEYS, AnvilNode
from zkrisk.engine.chain.client import ChainClient
from zkrisk.engine.chain.uniswap_deploy import UniswapDeployment, deploy_uniswap
from zkrisk.engine.journal.events import OrderSpec
from zkrisk.engine.pipeline.venues.base import VenueReport
from zkrisk.engine.pipeline.venues.uniswap import LocalKeySigner, UniswapSettings, UniswapVenue
from zkrisk.engine.risk.models import Side

TRADER_KEY = DEV_PRIVATE_KEYS[1]
FUNDING = {"USDC": Decimal(1_000_000), "WETH": Decimal(100), "WBTC": Decimal(5)}


def deploy_and_fund(node: AnvilNode, trader_key: str = TRADER_KEY) -> UniswapDeployment:
    deployment = deploy_uniswap(ChainClient.connect(node.url, DEV_PRIVATE_KEYS[0]))
    trader = LocalKeySigner(trader_key).address
    for symbol, amount in FUNDING.items():
        deployment.mint(symbol, trader, amount)
    return deployment


def order(
    uni: UniswapDeployment, coid: str, side: Side, quantity: str, symbol: str = "WETH", **extra: Any
) -> OrderSpec:
    """An order judged at the pool's mid price now (earlier tests of the module moved it)."""
    asset, quote = uni.reserves(symbol)
    reference = (quote / asset).quantize(Decimal("0.01"))
    fields: dict[str, Any] = {"max_slippage_bps": 300} | extra
    return OrderSpec(client_order_id=coid, venue="uniswap", symbol=symbol, side=side,
                     quantity=Decimal(quantity), reference_price=reference, **fields)  # fmt: skip


@dataclass
class Session:
    """A connected venue and every report it sent, collected by a background task."""

    venue: UniswapVenue
    reports: list[VenueReport] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Session:
        await self.venue.connect()
        self._task = asyncio.create_task(self._collect())
        return self

    async def _collect(self) -> None:
        async for report in self.venue.reports():
            self.reports.append(report)

    async def __aexit__(self, *_exc: object) -> None:
        await self.venue.close()
        if self._task is not None:
            await self._task

    def of(self, kind: type[Any], coid: str | None = None) -> list[Any]:
        return [r for r in self.reports
                if isinstance(r, kind) and (coid is None or r.client_order_id == coid)]  # fmt: skip

    async def until(self, check: Callable[[], object], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; reports so far: {self.reports}")
            await asyncio.sleep(0.01)


def session(
    deployment: UniswapDeployment,
    urls: list[str],
    key: str = TRADER_KEY,
    **settings: Any,
) -> Session:
    venue = UniswapVenue(
        deployment.addresses, LocalKeySigner(key), urls, UniswapSettings(**settings)
    )
    return Session(venue)


def rpc(node: AnvilNode, method: str, *params: Any) -> Any:
    """A JSON-RPC call over plain HTTP, its result. Not web3: inside the venue's event loop,
    web3's sync provider shares a lock with the async one that a venue task may hold across an
    await (a deadlock that hangs the test)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    request = urllib.request.Request(node.url, body.encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.loads(response.read())
    assert "error" not in answer, answer
    return answer["result"]
