"""Ingest against the real WebSocket feed server and the real SQLite journal, with faults."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from zkrisk.engine.journal.events import FeedGap
from zkrisk.engine.journal.sqlite import SQLiteJournal
from zkrisk.engine.pipeline.feed_server import Faults, FeedServer
from zkrisk.engine.pipeline.ingest import Ingest

from .feed_support import (
    heads_reach,
    market_data,
    publisher,
    quarantined,
    run_until,
    seqs,
    ws_config,
)


def test_ten_thousand_messages_with_duplicates_reorders_and_corruption_yield_each_valid_one_once_in_order(
    tmp_path: Path,
) -> None:
    async def scenario() -> tuple[list[object], Ingest]:
        faults = Faults(duplicate_rate=0.1, reorder_rate=0.1, corrupt_rate=0.01, seed=12)
        async with FeedServer(faults=faults) as server:
            ingest = Ingest(journal, ws_config(server.url))
            await run_until(ingest, heads_reach(ingest, "feed", server.truth),
                            before=publisher(server, 10_000))  # fmt: skip
            return list(server.truth), ingest

    journal = SQLiteJournal(tmp_path / "journal.sqlite")
    truth, ingest = asyncio.run(scenario())
    valid = [p for p in truth if p.valid]  # type: ignore[attr-defined]
    corrupt = [p for p in truth if not p.valid]  # type: ignore[attr-defined]
    assert len(truth) == 10_000 and 80 <= len(corrupt) <= 130
    md = market_data(journal, "feed")
    for symbol in ("WETH", "WBTC"):
        assert seqs(md, symbol) == [p.seq for p in valid if p.symbol == symbol]
    assert [r.event.source_seq for r in md if r.event.symbol == "WETH"] == sorted(  # type: ignore[union-attr]
        {r.event.source_seq for r in md if r.event.symbol == "WETH"}  # type: ignore[union-attr]
    )
    q = quarantined(journal)
    assert Counter(e.reason for e in q) == Counter(p.reason.value for p in corrupt)
    by_raw = {e.raw: e.reason for e in q}
    assert all(by_raw[p.text] == p.reason for p in corrupt)
    # A frame cut short hides its sequence: ingest cannot know it, so it is a declared gap.
    gaps = [
        r.event for r in journal.iter_from(0, streams=["ingest"]) if isinstance(r.event, FeedGap)
    ]
    assert sorted((g.symbol, g.expected) for g in gaps) == sorted(
        (p.symbol, p.seq) for p in corrupt if not p.seq_readable
    )
    counts = ingest.counts.by_outcome
    assert counts["accepted"] == len(valid) and counts["quarantined"] == len(corrupt)
    assert counts["duplicate"] > 800
    assert ingest.metrics.registry.get_sample_value(
        "zkrisk_feed_messages_total", {"source": "feed", "outcome": "accepted"}
    ) == len(valid)
    # the lag of the last accepted message, converted when scraped: loopback, so under 5 s
    lag = ingest.metrics.registry.get_sample_value("zkrisk_feed_lag_seconds", {"source": "feed"})
    assert lag is not None and 0 < lag < 5


def test_a_restarted_ingest_resumes_after_the_journaled_sequence_and_drops_the_resent_copies(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.sqlite"

    async def scenario() -> list[object]:
        async with FeedServer(faults=Faults(duplicate_rate=0.05, seed=3)) as server:
            with SQLiteJournal(path) as journal:
                first = Ingest(journal, ws_config(server.url))
                await run_until(first, heads_reach(first, "feed", server.truth),
                                before=publisher(server, 1_000))  # fmt: skip
            server.publish(1_000)  # published while ingest is down
            server.flush()
            with SQLiteJournal(path) as journal:
                second = Ingest(journal, ws_config(server.url))
                assert second.heads.heads["feed"] == {"WETH": 500, "WBTC": 500}
                await run_until(second, heads_reach(second, "feed", server.truth))
                assert second.counts.by_outcome.get("accepted") == 1_000
            return list(server.truth)

    truth = asyncio.run(scenario())
    with SQLiteJournal(path) as journal:
        md = market_data(journal, "feed")
    assert len(md) == 2_000 == len(truth)
    for symbol in ("WETH", "WBTC"):
        assert seqs(md, symbol) == list(range(1, 1_001))


def test_a_burst_is_held_by_bounded_queues_and_batches(tmp_path: Path) -> None:
    async def scenario() -> Ingest:
        async with FeedServer() as server:
            ingest = Ingest(journal, ws_config(server.url, queue_size=32, batch_size=100))
            await run_until(ingest, heads_reach(ingest, "feed", server.truth),
                            before=publisher(server, 5_000))  # fmt: skip
            return ingest

    journal = SQLiteJournal(tmp_path / "journal.sqlite")
    ingest = asyncio.run(scenario())
    assert len(market_data(journal, "feed")) == 5_000
    assert ingest.max_queue_seen <= 32
    assert ingest.max_batch_seen <= 100 + ingest.config.reorder_window
