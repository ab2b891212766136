"""Journal append throughput: batched Quote appends to the SQLite journal vs bare executemany.

`journal_append_per_s` is what the pipeline gets: `SQLiteJournal.append` of batches of realistic
Quote drafts (validation, the JSON body, the hash-chain link, gapless positions and sequences,
one transaction per batch), durable against a process crash (WAL, synchronous=NORMAL). The
named baseline, measured in the same run on the same schema, is a bare sqlite3 `executemany`
of the same rows already built (what SQLite itself costs), read back from the journal file so
the columns and types are identical; the ratio (the median of each run's pair, measured back to
back) is the journal's own overhead and moves less with the machine's load than either rate.
`journal_append_power_per_s` is the same with durability="power" (synchronous=FULL, an fsync
per commit). Medians over RUNS fresh files; the notes state the load average, since the rates
are wall-clock rates on a shared machine.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from zkrisk.engine.journal.events import Draft, Quote
from zkrisk.engine.journal.sqlite import INSERT, Durability, SQLiteJournal

from .common import Metric, metric

EVENTS, BATCH, RUNS = 50_000, 1_000, 7
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


def _append_rate(
    folder: Path, drafts: list[Draft], durability: Durability
) -> tuple[float, float, list]:
    """Events per second of wall time and per second of this process's CPU time, and the rows."""
    journal = SQLiteJournal(folder / f"j-{durability}-{time.perf_counter_ns()}.db",
                            durability=durability)  # fmt: skip
    t0, cpu0 = time.perf_counter(), time.process_time()
    for i in range(0, len(drafts), BATCH):
        journal.append(drafts[i : i + BATCH])
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    rows = journal._db.execute("SELECT * FROM events ORDER BY position").fetchall()
    journal.close()
    return len(drafts) / seconds, len(drafts) / cpu, rows


def _executemany_rate(folder: Path, rows: list) -> float:
    """The same rows, prebuilt, into a fresh journal file: SQLite alone (same schema, same
    statement, values bound in the types the journal binds them: see `sqlite.INSERT`)."""
    journal = SQLiteJournal(folder / f"base-{time.perf_counter_ns()}.db")
    db = journal._db
    bound = [(*r[:7], r[7] or "", r[8], bytearray(r[9])) for r in rows]
    t0 = time.perf_counter()
    for i in range(0, len(bound), BATCH):
        db.execute("BEGIN IMMEDIATE")
        db.executemany(INSERT, bound[i : i + BATCH])
        db.execute("COMMIT")
    seconds = time.perf_counter() - t0
    journal.close()
    return len(rows) / seconds


def run() -> dict[str, Metric]:
    drafts = quotes()
    load = os.getloadavg()[0]
    folder = Path(tempfile.mkdtemp(prefix="zkrisk-bench-journal-"))
    try:
        _append_rate(folder, drafts[:5_000], "process")  # warm-up
        journal, cpu, baseline, power = [], [], [], []
        for _ in range(RUNS):
            rate, cpu_rate, rows = _append_rate(folder, drafts, "process")
            journal.append(rate)
            cpu.append(cpu_rate)
            baseline.append(_executemany_rate(folder, rows))
            power.append(_append_rate(folder, drafts, "power")[0])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    j, b, p = (statistics.median(x) for x in (journal, baseline, power))
    ratio = statistics.median(base / rate for base, rate in zip(baseline, journal, strict=True))
    load = max(load, os.getloadavg()[0])
    shape = (f"{EVENTS:,} Quote drafts in batches of {BATCH:,}, median of {RUNS}; 1-min load "
             f"average up to {load:.1f} on {os.cpu_count()} cores")  # fmt: skip
    notes = {
        "journal_append_per_s": f"SQLiteJournal.append, WAL synchronous=NORMAL (survives "
        f"SIGKILL); {shape}; best run {max(journal):,.0f}, per CPU-second of the process "
        f"{statistics.median(cpu):,.0f} (median); target ≥ 100,000",
        "journal_append_baseline_executemany_per_s": "bare sqlite3 executemany of the same "
        f"prebuilt rows, same schema and statement, values bound as the journal binds them; "
        f"{shape}",
        "journal_append_vs_executemany_ratio": "baseline / journal (median of the per-run "
        "pairs): the cost of validation, the JSON body, the hash chain and the records",
        "journal_append_power_per_s": f"durability='power' (synchronous=FULL, fsync per "
        f"commit); {shape}",
    }
    values = {"journal_append_per_s": (j, "events/s"),
              "journal_append_baseline_executemany_per_s": (b, "events/s"),
              "journal_append_vs_executemany_ratio": (ratio, "x"),
              "journal_append_power_per_s": (p, "events/s")}  # fmt: skip
    return {name: metric(v, unit, RUNS, notes[name]) for name, (v, unit) in values.items()}
