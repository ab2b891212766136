"""Journal append throughput: batched Quote appends to the SQLite journal vs bare executemany.

`journal_append_per_s` is what the pipeline gets: `SQLiteJournal.append` of batches of realistic
Quote drafts (validation, the JSON body, the hash-chain link, gapless positions and sequences,
one transaction per batch), durable against a process crash (WAL, synchronous=NORMAL). Each run
is sustained (EVENTS into a fresh file, so the WAL is checkpointed many times while it is
measured) and timed from opening the journal to closing it, the closing checkpoint included.
The named baseline, measured in the same run, is a bare sqlite3 `executemany` of the same rows
already built (what SQLite itself costs) into a journal opened the same way: same schema,
statement and pragmas, the same background checkpointer notified after each commit, the same
close. The ratio (the median of each run's pair, measured back to back) is the journal's own
Python overhead and moves less with the machine's load than either rate. The notes give the
appending thread's CPU time (`time.thread_time`) against the wall time: the journal appends on
one core, its checkpointer thread is the rest of the process's CPU.
`journal_append_power_per_s` is the same with durability="power" (synchronous=FULL, an fsync
per commit). Medians over RUNS fresh files; the notes state the load average, since the rates
are wall-clock rates on a shared machine. The prebuilt drafts are moved out of the collector's
reach (`gc.freeze`): they are the benchmark's heap, not the journal's garbage.
"""

from __future__ import annotations

import gc
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

EVENTS, BATCH, RUNS = 200_000, 1_000, 5
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
    folder: Path, drafts: list[Draft], durability: Durability, *, rows: bool = False
) -> tuple[float, float, float, list]:
    """Events per second of wall time from open to close (so the final checkpoint counts),
    the appending thread's CPU seconds per wall second, the whole process's, and (`rows`) the
    rows as stored, bound as the journal binds them (see `sqlite.INSERT`)."""
    path = folder / f"j-{durability}-{time.perf_counter_ns()}.db"
    t0, thread0, cpu0 = time.perf_counter(), time.thread_time(), time.process_time()
    journal = SQLiteJournal(path, durability=durability)
    for i in range(0, len(drafts), BATCH):
        journal.append(drafts[i : i + BATCH])
    journal.close()
    seconds = time.perf_counter() - t0
    thread, cpu = time.thread_time() - thread0, time.process_time() - cpu0
    stored = []
    if rows:
        with SQLiteJournal(path, readonly=True) as j:
            query = j._db.execute("SELECT * FROM events ORDER BY position")
            stored = [(*r[:7], r[7] or "", r[8], bytearray(r[9])) for r in query]
    path.unlink()  # each run starts on a disk with no other run's dirty pages to write back
    return len(drafts) / seconds, thread / seconds, cpu / seconds, stored


def _executemany_rate(folder: Path, bound: list) -> float:
    """The same rows, prebuilt, into a fresh journal file: SQLite alone, with everything the
    journal does around it (same schema, statement and pragmas, the same background
    checkpoints after each commit, the same closing checkpoint)."""
    path = folder / f"base-{time.perf_counter_ns()}.db"
    t0 = time.perf_counter()
    journal = SQLiteJournal(path)
    db = journal._db
    for i in range(0, len(bound), BATCH):
        db.execute("BEGIN IMMEDIATE")
        db.executemany(INSERT, bound[i : i + BATCH])
        db.execute("COMMIT")
        journal._committed()
    journal.close()
    seconds = time.perf_counter() - t0
    path.unlink()
    return len(bound) / seconds


def run() -> dict[str, Metric]:
    drafts = quotes()
    # The prebuilt drafts are the benchmark's, not the journal's: frozen out of the collector,
    # so full collections do not walk them (the journal's own garbage is still collected).
    gc.collect()
    gc.freeze()
    load = os.getloadavg()[0]
    folder = Path(tempfile.mkdtemp(prefix="zkrisk-bench-journal-"))
    try:
        # A warm-up run, whose rows, read back, are the baseline's (every run stores the same
        # ones): read once, so no run allocates them beside the one it measures.
        bound = _append_rate(folder, drafts, "process", rows=True)[3]
        journal, thread, cpu, baseline, power = [], [], [], [], []
        for _ in range(RUNS):
            rate, thread_cpu, process_cpu, _ = _append_rate(folder, drafts, "process")
            journal.append(rate)
            thread.append(thread_cpu)
            cpu.append(process_cpu)
            baseline.append(_executemany_rate(folder, bound))
            power.append(_append_rate(folder, drafts, "power")[0])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        gc.unfreeze()
    j, b, p = (statistics.median(x) for x in (journal, baseline, power))
    per_cpu = [rate / share for rate, share in zip(journal, thread, strict=True)]
    ratio = statistics.median(base / rate for base, rate in zip(baseline, journal, strict=True))
    load = max(load, os.getloadavg()[0])
    shape = (f"{EVENTS:,} Quote drafts in batches of {BATCH:,} into a fresh file, timed from "
             f"open to close (the closing checkpoint included), median of {RUNS}; 1-min load "
             f"average up to {load:.1f} on {os.cpu_count()} cores")  # fmt: skip
    notes = {
        "journal_append_per_s": f"SQLiteJournal.append, WAL synchronous=NORMAL (survives "
        f"SIGKILL), checkpoints in the journal's background thread; {shape}; runs "
        f"{min(journal):,.0f}–{max(journal):,.0f}; the appending thread was on a CPU "
        f"{statistics.median(thread):.0%} of the wall time ({statistics.median(per_cpu):,.0f} "
        f"events per CPU-second of that one thread), the whole process "
        f"{statistics.median(cpu):.0%} (median); target ≥ 100,000",
        "journal_append_baseline_executemany_per_s": "bare sqlite3 executemany of the same "
        "prebuilt rows, same schema, statement, pragmas and checkpointing as the journal, "
        f"values bound as the journal binds them; {shape}",
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
