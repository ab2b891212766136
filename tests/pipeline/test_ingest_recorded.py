"""Recorded files as sources (JSONL and CSV) through the real journal; stale and unknown data."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from zkrisk.engine.journal.sqlite import SQLiteJournal
from zkrisk.engine.pipeline.ingest import run_ingest
from zkrisk.engine.pipeline.ingest_config import IngestConfig

from .feed_support import market_data, quarantined, seqs

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "marketdata"


def ingest_file(path: Path, journal: SQLiteJournal, **source: object) -> None:
    config = IngestConfig(symbols=("WETH", "WBTC", "LINK"),
                          sources=[{"name": "tape", "kind": "file", "path": path, **source}])  # fmt: skip
    asyncio.run(run_ingest(journal, config, asyncio.Event()))


def test_the_shipped_jsonl_and_csv_recordings_ingest_to_the_same_events(tmp_path: Path) -> None:
    events = []
    for name in ("quotes.jsonl", "quotes.csv"):
        with SQLiteJournal(tmp_path / f"{name}.sqlite") as journal:
            ingest_file(EXAMPLES / name, journal)
            md = market_data(journal, "tape")
            assert quarantined(journal) == []
            events.append([(r.key, r.event, r.event_time_ns) for r in md])
    assert len(events[0]) == 40 and events[0] == events[1]


def test_a_recording_replayed_against_the_wall_clock_is_quarantined_stale(tmp_path: Path) -> None:
    with SQLiteJournal(tmp_path / "j.sqlite") as journal:
        ingest_file(EXAMPLES / "quotes.jsonl", journal, clock="wall")
        assert market_data(journal, "tape") == []
        q = quarantined(journal)
        assert len(q) == 40 and {e.reason for e in q} == {"STALE"}


def test_unknown_symbols_and_bad_lines_are_quarantined_with_the_raw_text_kept(
    tmp_path: Path,
) -> None:
    lines = (EXAMPLES / "quotes.jsonl").read_text().splitlines()[:4]
    doge = json.loads(lines[0]) | {"symbol": "DOGE"}
    tape = tmp_path / "tape.jsonl"
    tape.write_text("\n".join([lines[0], json.dumps(doge), "garbage", *lines[1:], lines[0]]) + "\n")
    with SQLiteJournal(tmp_path / "j.sqlite") as journal:
        ingest_file(tape, journal)
        md = market_data(journal, "tape")
        assert seqs(md, "WETH") == [1, 2] and seqs(md, "WBTC") == [1, 2]  # the repeat dropped
        q = sorted(quarantined(journal), key=lambda e: e.reason)
        assert [(e.reason, e.raw) for e in q] == [("MALFORMED", "garbage"),
                                                   ("UNKNOWN_SYMBOL", json.dumps(doge))]  # fmt: skip
        assert q[1].symbol is None  # an unknown symbol holds no stream head


def test_the_last_sequence_survives_a_restart_through_the_snapshot_and_tail(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with SQLiteJournal(path) as journal:
        ingest_file(EXAMPLES / "quotes.jsonl", journal)
        assert journal.load_snapshot("ingest.heads") is not None
    with SQLiteJournal(path) as journal:
        ingest_file(EXAMPLES / "quotes.csv", journal)  # the same rows again: all duplicates
        assert len(market_data(journal, "tape")) == 40
        from zkrisk.engine.pipeline.heads import SequenceHeads

        heads = SequenceHeads.load(journal, ["tape"])
        scratch = SequenceHeads()
        for rec in journal.iter_from(0):
            scratch.apply(rec)
        assert heads.heads == scratch.heads == {"tape": {"WETH": 20, "WBTC": 20}}
