"""Journal append throughput: batched Quote appends to the SQLite journal vs bare executemany.

`journal_append_per_s` is what the pipeline gets: `SQLiteJournal.append` of batches of realistic
Quote drafts (validation, the JSON body, the hash-chain link, gapless positions and sequences,
one transaction per batch), durable against a process crash (WAL, synchronous=NORMAL). The
named baseline, measured in the same run on the same schema, is a bare sqlite3 `executemany`
of the same rows already built (what SQLite itself costs); the ratio is the journal's own
overhead. `journal_append_power_per_s` is the same with durability="power" (synchronous=FULL,
an fsync per commit). Medians over RUNS fresh files.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from zkrisk.engine.journal.events import Draft, Quote
from zkrisk.engine.journal.sqlite import Durability, SQLiteJournal

from .common import Metric, metric

EVENTS, BATCH, RUNS = 50_000, 1_000, 5
T0 = 1_700_000_000_000_000_000


def quotes(n: int = EVENTS) -> list[Draft]:
    """A feed's quotes on three symbols with moving prices, keyed like ingest keys them."""
    symbols = ("ETH", "BTC", "SOL")
    out = []
    for i in range(n):
        symbol = symbols[i % 3]
        bid = Decimal(300_000 + (i * 7919) % 5_000) / 100
        event = Quote(source="feed", symbol=symbol, bid=bid, ask=bid + Decimal("0.05"),
                      bid_size=Decimal(1 + i % 9) / 4, ask_size=Decimal(1 + i % 7) / 4,
                      source_seq=i + 1)  # fmt: skip
        out.append(Draft("md.feed", f"md:feed:{symbol}:{i + 1}", event, T0 + i * 1000,
                         T0 + i * 1000 + 250))  # fmt: skip
    return out


def _append_rate(folder: Path, drafts: list[Draft], durability: Durability) -> tuple[float, list]:
    journal = SQLiteJournal(folder / f"j-{durability}-{time.perf_counter_ns()}.db",
                            durability=durability)  # fmt: skip
    t0 = time.perf_counter()
    for i in range(0, len(drafts), BATCH):
        journal.append(drafts[i : i + BATCH])
    seconds = time.perf_counter() - t0
    rows = journal._db.execute("SELECT * FROM events ORDER BY position").fetchall()
    journal.close()
    return len(drafts) / seconds, rows


def _executemany_rate(folder: Path, rows: list) -> float:
    """The same rows, prebuilt, into a fresh journal file: SQLite alone (same schema)."""
    journal = SQLiteJournal(folder / f"base-{time.perf_counter_ns()}.db")
    db = journal._db
    t0 = time.perf_counter()
    for i in range(0, len(rows), BATCH):
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       rows[i : i + BATCH])  # fmt: skip
        db.execute("COMMIT")
    seconds = time.perf_counter() - t0
    journal.close()
    return len(rows) / seconds


def run() -> dict[str, Metric]:
    drafts = quotes()
    folder = Path(tempfile.mkdtemp(prefix="zkrisk-bench-journal-"))
    try:
        _append_rate(folder, drafts[:5_000], "process")  # warm-up
        journal, baseline, power = [], [], []
        for _ in range(RUNS):
            rate, rows = _append_rate(folder, drafts, "process")
            journal.append(rate)
            baseline.append(_executemany_rate(folder, rows))
            power.append(_append_rate(folder, drafts, "power")[0])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    j, b, p = (statistics.median(x) for x in (journal, baseline, power))
    shape = f"{EVENTS:,} Quote drafts in batches of {BATCH:,}, median of {RUNS}"
    notes = {
        "journal_append_per_s": f"SQLiteJournal.append, WAL synchronous=NORMAL (survives "
        f"SIGKILL); {shape}; target ≥ 100,000",
        "journal_append_baseline_executemany_per_s": "bare sqlite3 executemany of the same "
        f"prebuilt rows, same schema; {shape}",
        "journal_append_vs_executemany_ratio": "baseline / journal: the cost of validation, "
        "the JSON body, the hash chain and the records",
        "journal_append_power_per_s": f"durability='power' (synchronous=FULL, fsync per "
        f"commit); {shape}",
    }
    values = {"journal_append_per_s": (j, "events/s"),
              "journal_append_baseline_executemany_per_s": (b, "events/s"),
              "journal_append_vs_executemany_ratio": (b / j, "x"),
              "journal_append_power_per_s": (p, "events/s")}  # fmt: skip
    return {name: metric(v, unit, RUNS, notes[name]) for name, (v, unit) in values.items()}
