"""Ingest from on-chain feed rounds: MockAggregator feeds on a real Anvil node, the real SQLite
journal. One node per module (tests/conftest.py); fresh feeds per test."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from web3.contract import Contract

from zkrisk.engine.chain.anvil import DEV_PRIVATE_KEYS, AnvilNode, anvil
from zkrisk.engine.chain.client import ChainClient
from zkrisk.engine.chain.dev_scenario import CALM, FEED_DECIMALS
from zkrisk.engine.chain.solidity import CompiledContract, compile_sources
from zkrisk.engine.chain.vault_types import feed_answer
from zkrisk.engine.journal.events import FeedHealth, FeedStatus, OracleRound
from zkrisk.engine.journal.sqlite import SQLiteJournal
from zkrisk.engine.paths import contracts_src, repo_root
from zkrisk.engine.pipeline.ingest import Ingest
from zkrisk.engine.pipeline.ingest_config import IngestConfig
from zkrisk.engine.pipeline.sources.base import Link, RawMessage
from zkrisk.engine.pipeline.sources.chain import ChainFeedSource

from .feed_support import quarantined, run_until

SYMBOLS = ("WETH", "WBTC")
FAST = {"poll_ms": 50, "max_age_ms": 60_000, "max_silence_ms": 60_000, "down_after_ms": 200,
        "backoff_ms": 20, "max_backoff_ms": 100}  # fmt: skip


@pytest.fixture(scope="module")
def aggregator() -> CompiledContract:
    src = contracts_src()
    units = {"src/mocks/MockAggregator.sol": src / "mocks" / "MockAggregator.sol"}
    return compile_sources(units, base=src.parent, cache=repo_root() / "build" / "solc")[
        "MockAggregator"
    ]


@dataclass
class Feeds:
    """A WETH (18 decimals) and a WBTC (8 decimals) MockAggregator, one CALM round each."""

    chain: ChainClient
    contracts: dict[str, Contract]

    @classmethod
    def deploy(cls, chain: ChainClient, compiled: CompiledContract) -> Feeds:
        feeds = {}
        for symbol in SYMBOLS:
            feeds[symbol] = chain.deploy(compiled, FEED_DECIMALS[symbol], f"{symbol} / USD")
            answer = feed_answer(CALM[symbol], FEED_DECIMALS[symbol])
            chain.transact(feeds[symbol].functions.setAnswer(answer))
        return cls(chain, feeds)

    @property
    def addresses(self) -> dict[str, str]:
        return {s: str(c.address) for s, c in self.contracts.items()}

    def now(self) -> int:
        return int(self.chain.w3.eth.get_block("latest")["timestamp"])

    async def push(self, symbol: str, price: str) -> None:
        """A new complete round (the mock's `setAnswer`) at `price` USD."""
        answer = feed_answer(Decimal(price), FEED_DECIMALS[symbol])
        fn = self.contracts[symbol].functions.setAnswer(answer)
        await asyncio.to_thread(self.chain.transact, fn)

    async def set_round(self, symbol: str, round_id: int, answer: int, **over: int) -> None:
        """Any round verbatim (the mock's `setRound`): updated now and complete unless told."""
        now = self.now()
        r = {"started": now, "updated": now, "answered": round_id, **over}
        fn = self.contracts[symbol].functions.setRound(
            round_id, answer, r["started"], r["updated"], r["answered"]
        )
        await asyncio.to_thread(self.chain.transact, fn)


@pytest.fixture
def feeds(chain: ChainClient, aggregator: CompiledContract) -> Feeds:
    return Feeds.deploy(chain, aggregator)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SQLiteJournal]:
    with SQLiteJournal(tmp_path / "journal.sqlite") as j:
        yield j


def chain_config(*sources: tuple[str, str, Feeds], **over: Any) -> IngestConfig:
    """`sources`: (name, node URL, feeds) in priority order."""
    common = {**FAST, **over}
    return IngestConfig(symbols=SYMBOLS, sources=[
        {"name": n, "kind": "chain", "url": url, "feeds": f.addresses, **common}
        for n, url, f in sources
    ])  # fmt: skip


def rounds(journal: SQLiteJournal, source: str) -> list[OracleRound]:
    out = []
    for rec in journal.iter_from(0, streams=[f"md.{source}"]):
        assert isinstance(rec.event, OracleRound)
        out.append(rec.event)
    return out


def story(journal: SQLiteJournal, source: str) -> list[tuple[str, int, Decimal]]:
    return [(r.symbol, r.round_id, r.price) for r in rounds(journal, source)]


async def until(done: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s")
        await asyncio.sleep(0.02)


def test_each_new_round_of_two_feeds_is_journaled_once_in_round_order_at_the_feed_decimals(
    anvil_node: AnvilNode, feeds: Feeds, journal: SQLiteJournal
) -> None:
    ingest = Ingest(journal, chain_config(("chain", anvil_node.url, feeds)))

    async def publish() -> None:
        await until(lambda: len(rounds(journal, "chain")) == 2)
        for symbol, price in [("WETH", "3000.5"), ("WETH", "3001.25"), ("WBTC", "60000.12345678"),
                              ("WETH", "2999.999999999999999999")]:  # fmt: skip
            await feeds.push(symbol, price)

    async def scenario() -> None:
        await run_until(ingest, lambda: len(rounds(journal, "chain")) == 6, before=publish)
        await run_until(ingest, lambda: True, before=lambda: asyncio.sleep(0.3))  # re-polls

    asyncio.run(scenario())

    got = rounds(journal, "chain")
    assert [(r.symbol, r.round_id) for r in got if r.symbol == "WETH"] == [
        ("WETH", 1), ("WETH", 2), ("WETH", 3), ("WETH", 4)
    ]  # fmt: skip
    assert [(r.symbol, r.round_id) for r in got if r.symbol == "WBTC"] == [("WBTC", 1), ("WBTC", 2)]
    prices = {(r.symbol, r.round_id): r.price for r in got}
    assert prices == {
        ("WETH", 1): Decimal("3000"), ("WETH", 2): Decimal("3000.5"),
        ("WETH", 3): Decimal("3001.25"), ("WETH", 4): Decimal("2999.999999999999999999"),
        ("WBTC", 1): Decimal("60000"), ("WBTC", 2): Decimal("60000.12345678"),
    }  # fmt: skip
    # exact: the answer scaled by the feed's decimals, read back from the journal unrounded
    assert {str(r.price) for r in got if r.round_id == 2} == {
        "3000.500000000000000000", "60000.12345678"
    }  # fmt: skip
    assert all(abs(r.updated_at - feeds.now()) < 60 for r in got)
    assert ingest.counts.by_outcome.get("duplicate", 0) == 0  # the re-polls yielded nothing
    assert quarantined(journal) == []


def test_a_round_polled_again_is_yielded_once(anvil_node: AnvilNode, feeds: Feeds) -> None:
    source = ChainFeedSource("chain", anvil_node.url, feeds.addresses, poll_s=0.01)

    async def collect(seconds: float) -> list[Link | RawMessage]:
        items: list[Link | RawMessage] = []

        async def read() -> None:
            async for item in source.stream():
                items.append(item)

        await source.connect()
        task = asyncio.create_task(read())
        await asyncio.sleep(seconds)
        await source.close()
        await task
        return items

    first = asyncio.run(collect(0.3))
    assert [type(i) for i in first] == [Link, RawMessage, RawMessage]  # ~30 polls, two rounds
    asyncio.run(feeds.push("WBTC", "61000"))
    again = asyncio.run(collect(0.3))
    texts = [i.text for i in again if isinstance(i, RawMessage)]
    assert len(texts) == 1 and '"round_id":2' in texts[0] and '"symbol":"WBTC"' in texts[0]


def test_a_round_older_than_max_age_is_quarantined_stale_and_not_journaled(
    anvil_node: AnvilNode, feeds: Feeds, journal: SQLiteJournal
) -> None:
    ingest = Ingest(journal, chain_config(("chain", anvil_node.url, feeds)))
    hour_ago = feeds.now() - 3_600

    async def publish() -> None:
        await until(lambda: len(rounds(journal, "chain")) == 2)
        await feeds.set_round("WETH", 2, 3_100 * 10**18, started=hour_ago, updated=hour_ago)
        await feeds.push("WETH", "3200")  # round 3, fresh: the feed goes on

    asyncio.run(run_until(ingest, lambda: len(rounds(journal, "chain")) == 3, before=publish))

    assert [(s, i) for s, i, _ in story(journal, "chain")] == [
        ("WETH", 1), ("WBTC", 1), ("WETH", 3)
    ]  # fmt: skip
    (stale,) = quarantined(journal)
    assert stale.reason == "STALE" and stale.symbol == "WETH" and "max_age" in stale.detail
    assert '"round_id":2' in stale.raw


def test_a_carried_over_zero_or_negative_answer_or_a_broken_feed_is_quarantined_with_its_reason(
    anvil_node: AnvilNode, feeds: Feeds, journal: SQLiteJournal
) -> None:
    ingest = Ingest(journal, chain_config(("chain", anvil_node.url, feeds)))
    weth = feeds.contracts["WETH"]

    async def publish() -> None:
        await until(lambda: len(rounds(journal, "chain")) == 2)
        await feeds.set_round("WETH", 2, 3_100 * 10**18, answered=1)  # answer of round 1
        await feeds.set_round("WETH", 3, 0)
        await feeds.set_round("WETH", 4, -5 * 10**18)
        await feeds.push("WETH", "3300")  # round 5: fine again
        await until(lambda: len(rounds(journal, "chain")) == 3)
        await asyncio.to_thread(feeds.chain.transact, weth.functions.setReverts(True))

    def done() -> bool:
        return len(rounds(journal, "chain")) == 3 and len(quarantined(journal)) == 4

    async def scenario() -> None:
        await run_until(ingest, done, before=publish)
        await run_until(ingest, lambda: True, before=lambda: asyncio.sleep(0.3))  # re-polls

    asyncio.run(scenario())

    assert story(journal, "chain")[-1] == ("WETH", 5, Decimal("3300"))
    reasons = [(q.reason, q.symbol) for q in quarantined(journal)]
    assert reasons == [("STALE_ANSWER", "WETH"), ("NON_POSITIVE_PRICE", "WETH"),
                       ("NON_POSITIVE_PRICE", "WETH"), ("MALFORMED", "WETH")]  # fmt: skip
    details = [q.detail for q in quarantined(journal)]
    assert "answer of round 1" in details[0] and "answer 0 " in details[1]
    assert "-5000000000000000000" in details[2]
    assert "failed to answer: ContractCustomError" in details[3]  # the revert, as the node said
    # the revert is re-read on every poll, and yielded once
    assert ingest.counts.by_outcome.get("quarantined") == 4
    assert ingest.counts.by_outcome.get("duplicate", 0) == 0


def test_a_round_id_below_the_journaled_one_is_dropped_not_journaled_out_of_order(
    anvil_node: AnvilNode, feeds: Feeds, journal: SQLiteJournal
) -> None:
    ingest = Ingest(journal, chain_config(("chain", anvil_node.url, feeds)))

    async def publish() -> None:
        await until(lambda: len(rounds(journal, "chain")) == 2)
        await feeds.set_round("WETH", 5, 3_500 * 10**18)  # ids 2-4 never written: skipped
        await until(lambda: len(rounds(journal, "chain")) == 3)
        await feeds.set_round("WETH", 3, 3_300 * 10**18)  # the feed goes back

    def done() -> bool:
        older = any(r.round_id == 3 for r in rounds(journal, "chain"))
        return older or ingest.counts.by_outcome.get("duplicate", 0) >= 1

    asyncio.run(run_until(ingest, done, before=publish))

    assert [(s, i) for s, i, _ in story(journal, "chain") if s == "WETH"] == [
        ("WETH", 1), ("WETH", 5)
    ]  # fmt: skip


def test_a_restart_journals_the_rounds_published_while_down_once_each(
    anvil_node: AnvilNode, feeds: Feeds, tmp_path: Path
) -> None:
    path = tmp_path / "journal.sqlite"
    config = chain_config(("chain", anvil_node.url, feeds))
    with SQLiteJournal(path) as journal:
        first = Ingest(journal, config)
        asyncio.run(run_until(first, lambda: len(rounds(journal, "chain")) == 2))

    async def while_down() -> None:
        await feeds.push("WETH", "3010")
        await feeds.push("WETH", "3020")
        await feeds.push("WBTC", "60100")

    asyncio.run(while_down())
    with SQLiteJournal(path) as journal:
        again = Ingest(journal, config)

        async def resume() -> None:
            await run_until(again, lambda: len(rounds(journal, "chain")) == 5)
            await run_until(again, lambda: True, before=lambda: asyncio.sleep(0.2))  # re-polls

        asyncio.run(resume())
        assert story(journal, "chain") == [
            ("WETH", 1, Decimal("3000")), ("WBTC", 1, Decimal("60000")),
            ("WETH", 2, Decimal("3010")), ("WETH", 3, Decimal("3020")),
            ("WBTC", 2, Decimal("60100")),
        ]  # fmt: skip
        assert again.counts.by_outcome.get("duplicate", 0) == 0  # resumed after its rounds
        assert quarantined(journal) == []


def test_the_node_going_away_makes_the_source_down_and_ingest_fails_over_to_the_secondary(
    anvil_node: AnvilNode, aggregator: CompiledContract, feeds: Feeds, journal: SQLiteJournal
) -> None:
    rpc = anvil_node.url
    with anvil() as other:
        primary = Feeds.deploy(ChainClient.connect(other.url, DEV_PRIVATE_KEYS[0]), aggregator)
        config = chain_config(("node", other.url, primary), ("backup", rpc, feeds))
        ingest = Ingest(journal, config)

        def active(name: str) -> Callable[[], bool]:
            return lambda: ingest.failover.active == name

        async def outage() -> None:
            await until(lambda: len(rounds(journal, "node")) == 2)
            await asyncio.to_thread(other.stop)
            await until(active("backup"))
            await feeds.push("WETH", "3050")
            await feeds.push("WBTC", "59000")

        asyncio.run(run_until(ingest, lambda: len(rounds(journal, "backup")) == 2, before=outage))

    health = [r.event for r in journal.iter_from(0, streams=["ingest"])
              if isinstance(r.event, FeedHealth)]  # fmt: skip
    changes = [(h.source, h.status, h.reason.split(" ")[0], h.active_source) for h in health]
    down = changes.index(("node", FeedStatus.DOWN, "DISCONNECTED", "node"))
    # (under load another source's health change may land in between)
    assert ("backup", FeedStatus.HEALTHY, "FAILOVER", "backup") in changes[down + 1 :]
    assert story(journal, "node") == [("WETH", 1, Decimal("3000")), ("WBTC", 1, Decimal("60000"))]
    # the standby's first rounds came before the failover: only the rounds after it are journaled
    assert story(journal, "backup") == [("WETH", 2, Decimal("3050")), ("WBTC", 2, Decimal("59000"))]
    assert ingest.counts.by_outcome.get("standby") == 2
