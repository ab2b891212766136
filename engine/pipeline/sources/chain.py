"""On-chain price-feed rounds as a source: poll AggregatorV3 `latestRoundData` on a node.

Each new round of a feed becomes a wire `round` message (validate.py) keyed by the feed address
and round id, so a round read twice is one event. Rounds published between two polls (or while
the node or ingest was away) are read back with `getRoundData`, from the last round ingest holds
(`resume_points`, asked on every connect) up to the latest, so each round is journaled once, in
order; ids the feed never wrote (a phase change) are skipped. Judging a round (age, a carried-over
answer, a price ≤ 0) is validation's job: the source reports what the node says.

A feed that reverts or answers garbage (the demo's MockAggregator can do both) yields a message
carrying the error, which validation quarantines as MALFORMED: the record shows when and how the
feed broke. A node that does not answer is a `Link` down, retried with backoff.

Health: a chain source speaks only when a feed publishes, so its `max_silence_ms` is the feeds'
heartbeat (no new round for that long: the feed is stale, the source DOWN SILENT, failover).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError

from .base import Item, Link, RawMessage, ResumePoints
from .ws import backoff_delay

MAX_BACKFILL = 64
"""At most this many missed rounds per feed are read back in one poll (the newest ones)."""
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")

_ROUND_OUTPUTS = [{"name": "roundId", "type": "uint80"}, {"name": "answer", "type": "int256"},
                  {"name": "startedAt", "type": "uint256"},
                  {"name": "updatedAt", "type": "uint256"},
                  {"name": "answeredInRound", "type": "uint80"}]  # fmt: skip
AGGREGATOR_V3_ABI: list[dict[str, Any]] = [
    {"name": "decimals", "type": "function", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "uint8"}]},
    {"name": "latestRoundData", "type": "function", "stateMutability": "view", "inputs": [],
     "outputs": _ROUND_OUTPUTS},
    {"name": "getRoundData", "type": "function", "stateMutability": "view",
     "inputs": [{"name": "_roundId", "type": "uint80"}], "outputs": _ROUND_OUTPUTS},
]  # fmt: skip

RoundData = tuple[int, int, int, int, int]
"""roundId, answer, startedAt, updatedAt, answeredInRound."""


def round_message(symbol: str, feed: str, data: RoundData, decimals: int) -> str:
    round_id, answer, _started, updated_at, answered_in = data
    return json.dumps({"type": "round", "symbol": symbol, "feed": feed.lower(),
                       "round_id": round_id, "answer": str(answer), "decimals": decimals,
                       "updated_at": updated_at, "answered_in_round": answered_in},
                      separators=(",", ":"))  # fmt: skip


def error_message(symbol: str, feed: str, exc: Exception) -> str:
    error = f"{type(exc).__name__}: {exc}"[:200]
    return json.dumps({"type": "round", "symbol": symbol, "feed": feed.lower(), "error": error},
                      separators=(",", ":"))  # fmt: skip


def _as_round(raw: Any) -> RoundData:
    a, b, c, d, e = (int(x) for x in raw)
    return a, b, c, d, e


class ChainFeedSource:
    def __init__(
        self,
        name: str,
        rpc_url: str,
        feeds: Mapping[str, str],
        *,
        poll_s: float = 1.0,
        resume_points: ResumePoints | None = None,
        backoff_s: float = 0.05,
        max_backoff_s: float = 2.0,
        seed: int | None = None,
    ) -> None:
        """`feeds`: symbol → AggregatorV3 address; `resume_points`: feed address → last round."""
        bad = [f"{s}={a!r}" for s, a in feeds.items() if not _ADDRESS.match(a)]
        if bad:
            raise ValueError(f"source {name!r}: feed addresses must be 0x and 40 hex digits, "
                             f"got {', '.join(bad)}")  # fmt: skip
        self.name, self.rpc_url, self.poll_s = name, rpc_url, poll_s
        self.feeds = {s: a.lower() for s, a in feeds.items()}
        self.resume_points = resume_points or dict
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s
        self._rng = random.Random(seed)
        self._w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 5}))
        self._contracts: dict[str, Contract] = {
            a: self._w3.eth.contract(address=Web3.to_checksum_address(a), abi=AGGREGATOR_V3_ABI)
            for a in self.feeds.values()
        }
        self._last: dict[str, int] = {}
        """Feed address → the newest round id yielded (or that ingest holds, after a resume)."""
        self._failing: dict[str, str] = {}
        """Feed address → the error last yielded: a broken feed is reported once, then silent
        (so it is judged like a stale one), until it answers again or fails differently."""
        self._closed = False

    async def connect(self) -> None:
        self._closed = False

    def _missed(self, feed: Contract, last: int | None, latest: int) -> list[RoundData]:
        if last is None or latest <= last + 1:
            return []
        rounds = []
        for round_id in range(max(last + 1, latest - MAX_BACKFILL), latest):
            try:
                rounds.append(_as_round(feed.functions.getRoundData(round_id).call()))
            except ContractLogicError:
                continue  # an id the feed never wrote (a new phase starts elsewhere)
        return rounds

    def _read(self, symbol: str, address: str) -> tuple[list[str], int | str | None]:
        """The messages for one feed's rounds since the last one, and the newest id read (or
        the error message, when the feed is broken; None: nothing new)."""
        feed = self._contracts[address]
        last = self._last.get(address)
        try:
            latest = _as_round(feed.functions.latestRoundData().call())
            if latest[0] == last:
                return [], None
            decimals = int(feed.functions.decimals().call())
            rounds = [*self._missed(feed, last, latest[0]), latest]
        except (ConnectionError, OSError):
            raise
        except Exception as exc:  # a revert or undecodable answer is the feed's fault: record it
            error = error_message(symbol, address, exc)
            return ([] if self._failing.get(address) == error else [error]), error
        return [round_message(symbol, address, r, decimals) for r in rounds], latest[0]

    def _poll(self) -> tuple[list[str], dict[str, int | str]]:
        """Every feed's new rounds; nothing is marked read unless the whole poll succeeded (a
        node lost half-way through must not lose the feeds read before it)."""
        texts: list[str] = []
        newest: dict[str, int | str] = {}
        for symbol, address in self.feeds.items():
            read, latest = self._read(symbol, address)
            texts += read
            if latest is not None:
                newest[address] = latest
        return texts, newest

    def _mark_read(self, newest: Mapping[str, int | str]) -> None:
        for address, latest in newest.items():
            if isinstance(latest, str):
                self._failing[address] = latest
            else:
                self._last[address] = latest
                self._failing.pop(address, None)

    def _resume(self) -> None:
        held = self.resume_points()
        self._last.update({a: int(held[a]) for a in self._contracts if a in held})

    async def stream(self) -> AsyncIterator[Item]:
        up: bool | None = None
        attempt = 0
        while not self._closed:
            if up is not True:
                self._resume()
            try:
                texts, newest = await asyncio.to_thread(self._poll)
            except (ConnectionError, OSError) as exc:
                if up is not False:
                    yield Link(self.name, False, f"node {self.rpc_url}: {exc}", time.time_ns())
                up = False
                delay = backoff_delay(attempt, self.backoff_s, self.max_backoff_s, self._rng)
                attempt += 1
                await asyncio.sleep(delay)
                continue
            if up is not True:
                yield Link(self.name, True, f"polling {self.rpc_url}", time.time_ns())
            up, attempt = True, 0
            self._mark_read(newest)
            now = time.time_ns()
            for text in texts:
                yield RawMessage(self.name, text, now)
            await asyncio.sleep(self.poll_s)

    async def close(self) -> None:
        self._closed = True
