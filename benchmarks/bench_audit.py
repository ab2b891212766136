"""The audit log as a Merkle log: durable append rate, proof checks, and the anchor's gas.

`audit_append_per_s` is what the risk service gets: `AuditLog.append` of decision-sized rows,
each committed on return (WAL, synchronous=NORMAL: survives SIGKILL), with the hash-chain link,
the RFC 6962 frontier update and a checkpoint row every 1,000 entries, and the log's WAL
checkpointer thread running beside it. The named baseline, measured back to back in the same
run, is a bare sqlite3 INSERT loop of the same rows already built, one commit per row, on the
same schema with the same pragmas and the same checkpointer thread (what SQLite itself costs
for a durable row); the ratio is the log's own overhead. Both report their median and range
over the runs, with the 1-minute load average seen (the machine's other work slows both). `audit_merkle_append_us` isolates the Merkle log's share: leaf hash plus frontier
update per entry, in memory. `gas_anchor_checkpoint` is a mined `AuditAnchor.checkpoint` on
Anvil (receipt gasUsed), once the latest-checkpoint slots are set; `…_first` is the first one
(fresh slots, the dearest).
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from zkrisk.engine.audit import _SCHEMA, AuditLog, row_hash
from zkrisk.engine.audit_merkle import Frontier, leaf_hash
from zkrisk.engine.audit_proofs import check_checkpoints
from zkrisk.engine.chain.anvil import DEV_PRIVATE_KEYS, anvil
from zkrisk.engine.chain.audit_anchor import AuditAnchor
from zkrisk.engine.chain.client import ChainClient
from zkrisk.engine.cli.audit import read_checkpoints, read_rows, tree_of
from zkrisk.engine.journal.chain import GENESIS, framed
from zkrisk.engine.wal_db import FALLBACK_PAGES, Checkpointer, open_wal_db

from .common import Metric, metric

ENTRIES, RUNS, EVERY = 20_000, 5, 1_000
T0 = 1_795_183_200_000_000_000


def decisions(n: int = ENTRIES) -> list[tuple[str, str, str, str, str]]:
    """Rows shaped like the service's: an order check's request and response JSON."""
    out = []
    for i in range(1, n + 1):
        order = (
            f'"client_order_id":"desk-a-{i:06d}","symbol":"WETH","side":"BUY",'
            f'"quantity":"{1 + i % 9}","limit_price":"3015","counterparty":"binance"'
        )
        request = f'{{"client":"desk-a","order":{{{order}}}}}'
        response = (f'{{"decision_id":{i},"verdict":{{"kind":"APPROVE","reasons":[],'
                    f'"post_trade_health_factor_bps":37159}}}}')  # fmt: skip
        out.append(("check", f"desk-a-{i:06d}", "APPROVE", request, response))
    return out


def _append_rate(path: Path, rows: list[tuple[str, str, str, str, str]]) -> float:
    log = AuditLog(path, checkpoint_every=EVERY, checkpoint_seconds=None)  # its own checkpointer
    t0 = time.perf_counter()
    for i, row in enumerate(rows):
        log.append(*row, at_ns=T0 + i)
    seconds = time.perf_counter() - t0
    log.close()
    return len(rows) / seconds


def _sqlite_rate(path: Path, rows: list[tuple[str, str, str, str, str]]) -> float:
    """The same rows, prebuilt with their links, one INSERT and commit each (autocommit)."""
    built, prev = [], GENESIS
    for i, (kind, subject, outcome, request, response) in enumerate(rows):
        seq, at = i + 1, T0 + i
        digest = row_hash(prev, seq, at, kind, subject, outcome, request, response)
        built.append((seq, at, kind, subject, outcome, request, response, prev, digest))
        prev = digest
    db = open_wal_db(path, _SCHEMA)
    db.execute(f"PRAGMA wal_autocheckpoint={FALLBACK_PAGES}")  # as AuditLog sets it
    wal = Checkpointer(path, "NORMAL")
    t0 = time.perf_counter()
    for values in built:
        db.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", values)
        wal.committed()
    seconds = time.perf_counter() - t0
    wal.close()
    db.close()
    return len(rows) / seconds


def _merkle_us(rows: list[tuple[str, str, str, str, str]]) -> float:
    """Microseconds per entry of the Merkle log alone: leaf hash + frontier update."""
    data = [framed(GENESIS, (i, T0 + i, *row)) for i, row in enumerate(rows)]
    frontier = Frontier()
    t0 = time.perf_counter()
    for d in data:
        frontier.append(leaf_hash(d))
    return (time.perf_counter() - t0) / len(rows) * 1e6


def _gas() -> tuple[int, int]:
    with anvil() as node:
        admin = ChainClient.connect(node.url, DEV_PRIVATE_KEYS[0])
        writer = admin.with_key(DEV_PRIVATE_KEYS[1])
        deployed = AuditAnchor.deploy(admin, writer=writer.account.address)
        anchor = AuditAnchor.at(writer, deployed.address)
        first = anchor.checkpoint(1_000, b"\x01" * 32)["gasUsed"]
        steady = [anchor.checkpoint(1_000 * k, bytes([k]) * 32)["gasUsed"] for k in range(2, 6)]
    return int(first), int(max(steady))


def run() -> dict[str, Metric]:
    rows = decisions()
    load_before = os.getloadavg()[0]
    folder = Path(tempfile.mkdtemp(prefix="zkrisk-bench-audit-"))
    try:
        _append_rate(folder / "warm.sqlite", rows[:2_000])
        appends, bare = [], []
        for r in range(RUNS):
            appends.append(_append_rate(folder / f"log-{r}.sqlite", rows))
            bare.append(_sqlite_rate(folder / f"bare-{r}.sqlite", rows))
        merkle = statistics.median(_merkle_us(rows) for _ in range(RUNS))
        verify_log = folder / "log-0.sqlite"
        t0 = time.perf_counter()
        report = check_checkpoints(tree_of(read_rows(verify_log)), read_checkpoints(verify_log))
        verify_ms = (time.perf_counter() - t0) * 1000
        assert report.ok and report.checked == ENTRIES // EVERY
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    first, steady = _gas()
    a, b = statistics.median(appends), statistics.median(bare)
    ratio = statistics.median(x / y for x, y in zip(bare, appends, strict=True))
    load_after = os.getloadavg()[0]
    shape = (f"{ENTRIES:,} decision rows (~250 bytes of JSON each) into a fresh file, median of {RUNS}; "
             f"1-min load average {load_before:.1f} before, {load_after:.1f} after, "
             f"on {os.cpu_count()} cores")  # fmt: skip
    notes = {
        "audit_append_per_s": "AuditLog.append, each committed on return (WAL synchronous="
        "NORMAL), hash chain + RFC 6962 frontier + a checkpoint row every 1,000, the log's WAL "
        f"checkpointer thread beside it; {shape}; runs {min(appends):,.0f}–"
        f"{max(appends):,.0f}; target ≥ 20,000",
        "audit_append_baseline_sqlite_per_s": "bare sqlite3 INSERT of the same prebuilt rows, "
        "one commit each, same schema, pragmas (wal_autocheckpoint "
        f"{FALLBACK_PAGES:,}) and checkpointer thread; {shape}; runs {min(bare):,.0f}–"
        f"{max(bare):,.0f}",
        "audit_append_vs_sqlite_ratio": "baseline / AuditLog.append (median of the per-run "
        "pairs): the cost of the chain link, the Merkle log and the checkpoints",
        "audit_merkle_append_us": "the Merkle log's share of an append, in memory: leaf hash "
        f"+ frontier update, median of {RUNS} passes over {ENTRIES:,} rows",
        "audit_verify_20_checkpoints_ms": f"zkrisk audit verify's checkpoint check over "
        f"{ENTRIES:,} entries and {ENTRIES // EVERY} checkpoints: every root recomputed, "
        "consistency proofs between successive ones (rows read from the file)",
        "gas_anchor_checkpoint": "AuditAnchor.checkpoint(size, root), mined on Anvil (receipt "
        "gasUsed), the latest-checkpoint slots already set (every checkpoint after the first; "
        "the largest of 4); target ≤ 80,000",
        "gas_anchor_checkpoint_first": "the first AuditAnchor.checkpoint (fresh storage slots)",
    }
    values = {"audit_append_per_s": (a, "entries/s", RUNS),
              "audit_append_baseline_sqlite_per_s": (b, "entries/s", RUNS),
              "audit_append_vs_sqlite_ratio": (ratio, "x", RUNS),
              "audit_merkle_append_us": (merkle, "µs", RUNS),
              "audit_verify_20_checkpoints_ms": (verify_ms, "ms", 1),
              "gas_anchor_checkpoint": (steady, "gas", 4),
              "gas_anchor_checkpoint_first": (first, "gas", 1)}  # fmt: skip
    return {name: metric(v, unit, n, notes[name]) for name, (v, unit, n) in values.items()}
