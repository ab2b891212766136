"""Journal append throughput: batched Quote appends to the SQLite journal vs bare executemany.

`journal_append_per_s` is what the pipeline gets: `SQLiteJournal.append` of batches of realistic
Quote drafts (validation, the JSON bodies, the hash-chain link, gapless positions and sequences,
the keys index, one transaction per batch), durable against a process crash (WAL,
synchronous=NORMAL). Each run is sustained (EVENTS into a fresh file, so the WAL is checkpointed
many times while it is measured) and timed from opening the journal to closing it, the closing
checkpoint included. The named baseline, measured in the same run, is a bare sqlite3
`executemany` of one prebuilt row per event (position, stream, sequence, key UNIQUE, type, times,
causation, JSON body, link: the plain event-store layout the journal used up to schema 2, rows
already built, so it is what SQLite alone costs for that layout) into a file opened the same
way: same pragmas, the same background checkpointer notified after each commit, the same close.
The ratio (the median of each run's pair, measured back to back) moves less with the machine's
load than either rate. The notes give the appending thread's CPU time (`time.thread_time`)
against the wall time: the journal appends on one core, its checkpointer thread is the rest of
the process's CPU.
`journal_append_power_per_s` is the same with durability="power" (synchronous=FULL, an fsync
per commit). Medians over RUNS fresh files; the notes state the load average, since the rates
are wall-clock rates on a shared machine. The prebuilt drafts are moved out of the collector's
reach (`gc.freeze`): they are the benchmark's heap, not the journal's garbage.
"""

from __future__ import annotations

import gc
import hashlib
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from zkrisk.engine.journal.checkpointer import FALLBACK_PAGES, Checkpointer
from zkrisk.engine.journal.events import Draft, Quote
from zkrisk.engine.journal.sqlite import Durability, SQLiteJournal

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
    folder: Path, drafts: list[Draft], durability: Durability
) -> tuple[float, float, float]:
    """Events per second of wall time from open to close (so the final checkpoint counts),
    the appending thread's CPU seconds per wall second, and the whole process's."""
    path = folder / f"j-{durability}-{time.perf_counter_ns()}.db"
    t0, thread0, cpu0 = time.perf_counter(), time.thread_time(), time.process_time()
    journal = SQLiteJournal(path, durability=durability)
    for i in range(0, len(drafts), BATCH):
        journal.append(drafts[i : i + BATCH])
    journal.close()
    seconds = time.perf_counter() - t0
    thread, cpu = time.thread_time() - thread0, time.process_time() - cpu0
    path.unlink()  # each run starts on a disk with no other run's dirty pages to write back
    return len(drafts) / seconds, thread / seconds, cpu / seconds


_ROW_PER_EVENT = """CREATE TABLE events (
    position INTEGER PRIMARY KEY, stream TEXT NOT NULL, sequence INTEGER NOT NULL,
    key TEXT NOT NULL UNIQUE, type TEXT NOT NULL, event_time_ns INTEGER NOT NULL,
    recv_time_ns INTEGER NOT NULL, causation_id TEXT, body TEXT NOT NULL, hash BLOB NOT NULL)"""
_INSERT_ROW = "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, nullif(?, ''), ?, ?)"


def _rows(drafts: list[Draft]) -> list[tuple[object, ...]]:
    """One row per event, bound in types sqlite3 takes without adapting (a missing causation
    as '', the link as a bytearray), each linked to the one before."""
    rows, prev, sequences = [], b"", dict[str, int]()
    for position, d in enumerate(drafts, 1):
        sequences[d.stream] = sequence = sequences.get(d.stream, 0) + 1
        body = d.event.model_dump_json()
        prev = hashlib.sha256(prev + body.encode()).digest()
        rows.append((position, d.stream, sequence, d.key, d.event.type, d.event_time_ns,
                     d.recv_time_ns, d.causation_id or "", body, bytearray(prev)))  # fmt: skip
    return rows


def _executemany_rate(folder: Path, rows: list[tuple[object, ...]]) -> float:
    """The prebuilt rows into a fresh file: SQLite alone, opened and checkpointed as the journal
    opens and checkpoints its file (WAL, synchronous=NORMAL, the background checkpointer after
    each commit, the closing checkpoint)."""
    path = folder / f"base-{time.perf_counter_ns()}.db"
    t0 = time.perf_counter()
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(f"PRAGMA wal_autocheckpoint={FALLBACK_PAGES}")
    db.execute(_ROW_PER_EVENT)
    checkpointer = Checkpointer(path, "NORMAL")
    for i in range(0, len(rows), BATCH):
        db.execute("BEGIN IMMEDIATE")
        db.executemany(_INSERT_ROW, rows[i : i + BATCH])
        db.execute("COMMIT")
        checkpointer.committed()
    checkpointer.close()
    db.close()
    seconds = time.perf_counter() - t0
    path.unlink()
    return len(rows) / seconds


def run() -> dict[str, Metric]:
    drafts = quotes()
    # The prebuilt drafts are the benchmark's, not the journal's: frozen out of the collector,
    # so full collections do not walk them (the journal's own garbage is still collected).
    gc.collect()
    gc.freeze()
    load = os.getloadavg()[0]
    folder = Path(tempfile.mkdtemp(prefix="zkrisk-bench-journal-"))
    try:
        _append_rate(folder, drafts, "process")  # warm-up
        rows = _rows(drafts)
        gc.collect()
        gc.freeze()
        journal, thread, cpu, baseline, power = [], [], [], [], []
        for _ in range(RUNS):
            rate, thread_cpu, process_cpu = _append_rate(folder, drafts, "process")
            journal.append(rate)
            thread.append(thread_cpu)
            cpu.append(process_cpu)
            baseline.append(_executemany_rate(folder, rows))
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
        "journal_append_baseline_executemany_per_s": "bare sqlite3 executemany of one prebuilt "
        "row per event (UNIQUE key, JSON body, link), same pragmas and checkpointing as the "
        f"journal; {shape}",
        "journal_append_vs_executemany_ratio": "baseline / journal (median of the per-run "
        "pairs; below 1: the journal, validation, serialisation, hashing and records included, "
        "outpaces SQLite's bare insert of an event per row)",
        "journal_append_power_per_s": f"durability='power' (synchronous=FULL, fsync per "
        f"commit); {shape}",
    }
    values = {"journal_append_per_s": (j, "events/s"),
              "journal_append_baseline_executemany_per_s": (b, "events/s"),
              "journal_append_vs_executemany_ratio": (ratio, "x"),
              "journal_append_power_per_s": (p, "events/s")}  # fmt: skip
    return {name: metric(v, unit, RUNS, notes[name]) for name, (v, unit) in values.items()}
