"""Ingest under a burst on JetStream (a real nats-server): a batch is on the way while the
next is validated, and what gathered meanwhile goes as several batches at once
(`append_many`); on SQLite one batch at a time. A recorded file replayed as fast as ingest
takes it is the burst."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

from zkrisk.engine.journal.events import Draft, Recorded
from zkrisk.engine.journal.jetstream import JetStreamJournal
from zkrisk.engine.journal.sqlite import SQLiteJournal
from zkrisk.engine.natsio.server import NatsNode
from zkrisk.engine.pipeline.ingest import Ingest
from zkrisk.engine.pipeline.ingest_config import IngestConfig

from ..nats_fixtures import nats_node  # noqa: F401  (the fixture)
from .feed_support import seqs

QUOTES = 2_600
BATCH = 500
T0 = 1_767_225_600_000_000_000


def tape(path: Path, n: int) -> Path:
    lines = [json.dumps({"type": "quote", "symbol": "WETH", "seq": i, "ts_ns": T0 + i * 1_000,
                         "bid": "3000.00", "ask": "3000.50", "bid_size": "1", "ask_size": "1"})
             for i in range(1, n + 1)]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


class Calls:
    """What a journal was asked to append: one entry per call, the sizes of its batches."""

    def __init__(self) -> None:
        self.append: list[int] = []
        self.append_many: list[list[int]] = []


class Counting:
    """Mixed in before a journal class: records each append call's batch sizes."""

    calls = Calls()

    def append(self, drafts: Sequence[Draft], **kw: object) -> list[Recorded]:
        self.calls.append.append(len(drafts))
        return super().append(drafts, **kw)  # type: ignore[misc, no-any-return]

    def append_many(self, batches: Sequence[Sequence[Draft]]) -> list[list[Recorded]]:
        self.calls.append_many.append([len(b) for b in batches])
        return super().append_many(batches)  # type: ignore[misc, no-any-return]


class CountedJetStream(Counting, JetStreamJournal):
    pass


class CountedSQLite(Counting, SQLiteJournal):
    pass


def ingest(journal: JetStreamJournal | SQLiteJournal, path: Path) -> Ingest:
    config = IngestConfig(symbols=("WETH",), batch_size=BATCH, batch_ms=1_000,
                          sources=[{"name": "tape", "kind": "file", "path": path}])  # fmt: skip
    run = Ingest(journal, config)
    asyncio.run(run.run(asyncio.Event()))
    return run


def landed_in_order(journal: JetStreamJournal | SQLiteJournal) -> list[int | None]:
    return seqs([r for r in journal.iter_from(0) if r.stream == "md.tape"], "WETH")


def test_a_burst_goes_to_jetstream_as_pipelined_batches(
    nats_node: NatsNode,  # noqa: F811
    tmp_path: Path,
) -> None:
    CountedJetStream.calls = calls = Calls()
    with CountedJetStream(nats_node.url, prefix="burst") as journal:
        run = ingest(journal, tape(tmp_path / "tape.jsonl", QUOTES))
        assert landed_in_order(journal) == list(range(1, QUOTES + 1))  # each once, in order
    many = [sizes for sizes in calls.append_many if len(sizes) > 1]
    assert many, f"ingest never handed JetStream more than one batch: {calls.__dict__}"
    assert all(len(s) <= journal.in_flight and max(s) <= BATCH for s in calls.append_many)
    assert run.max_batch_seen <= BATCH and run.counts.by_outcome["accepted"] == QUOTES


def test_sqlite_gets_one_batch_at_a_time(tmp_path: Path) -> None:
    CountedSQLite.calls = calls = Calls()
    with CountedSQLite(tmp_path / "j.db") as journal:
        ingest(journal, tape(tmp_path / "tape.jsonl", QUOTES))
        assert landed_in_order(journal) == list(range(1, QUOTES + 1))
    assert calls.append_many == [] and max(calls.append) <= BATCH
    assert sum(calls.append) >= QUOTES
