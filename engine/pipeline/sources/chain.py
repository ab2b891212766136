"""On-chain price-feed rounds as a source: poll AggregatorV3 `latestRoundData` on a node.

Each new round of a feed becomes a wire `round` message (validate.py) keyed by the feed address
and round id, so a round read twice is one event. A feed that reverts or answers garbage (the
demo's MockAggregator can do both) yields a message carrying the error, which validation
quarantines as MALFORMED: the record shows when and how the feed broke. A node that does not
answer is a `Link` down.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from web3 import Web3

from .base import Item, Link, RawMessage

AGGREGATOR_V3_ABI: list[dict[str, Any]] = [
    {"name": "decimals", "type": "function", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "uint8"}]},
    {"name": "latestRoundData", "type": "function", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "roundId", "type": "uint80"}, {"name": "answer", "type": "int256"},
                 {"name": "startedAt", "type": "uint256"},
                 {"name": "updatedAt", "type": "uint256"},
                 {"name": "answeredInRound", "type": "uint80"}]},
]  # fmt: skip


def round_message(symbol: str, feed: str, data: tuple[int, ...], decimals: int) -> str:
    round_id, answer, _started, updated_at, _answered = data
    return json.dumps({"type": "round", "symbol": symbol, "feed": feed.lower(),
                       "round_id": round_id, "answer": str(answer), "decimals": decimals,
                       "updated_at": updated_at}, separators=(",", ":"))  # fmt: skip


class ChainFeedSource:
    def __init__(
        self, name: str, rpc_url: str, feeds: Mapping[str, str], *, poll_s: float = 1.0
    ) -> None:
        """`feeds`: symbol → AggregatorV3 address."""
        self.name, self.rpc_url, self.poll_s = name, rpc_url, poll_s
        self.feeds = dict(feeds)
        self._w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 5}))
        self._last: dict[str, int] = {}
        self._closed = False

    async def connect(self) -> None:
        self._closed = False

    def _read(self, symbol: str, address: str) -> str | None:
        feed = self._w3.eth.contract(address=Web3.to_checksum_address(address),
                                     abi=AGGREGATOR_V3_ABI)  # fmt: skip
        try:
            data = tuple(int(x) for x in feed.functions.latestRoundData().call())
            decimals = int(feed.functions.decimals().call())
        except (ConnectionError, OSError):
            raise
        except Exception as exc:  # a revert or undecodable answer is the feed's fault: record it
            error = f"{type(exc).__name__}: {exc}"[:200]
            return json.dumps({"type": "round", "symbol": symbol, "feed": address.lower(),
                               "error": error}, separators=(",", ":"))  # fmt: skip
        if self._last.get(address) == data[0]:
            return None
        self._last[address] = data[0]
        return round_message(symbol, address, data, decimals)

    def _poll(self) -> list[str]:
        return [m for s, a in self.feeds.items() if (m := self._read(s, a)) is not None]

    async def stream(self) -> AsyncIterator[Item]:
        up: bool | None = None
        while not self._closed:
            try:
                texts = await asyncio.to_thread(self._poll)
            except (ConnectionError, OSError) as exc:
                if up is not False:
                    yield Link(self.name, False, f"node {self.rpc_url}: {exc}", time.time_ns())
                up = False
            else:
                if up is not True:
                    yield Link(self.name, True, f"polling {self.rpc_url}", time.time_ns())
                up = True
                now = time.time_ns()
                for text in texts:
                    yield RawMessage(self.name, text, now)
            await asyncio.sleep(self.poll_s)

    async def close(self) -> None:
        self._closed = True
