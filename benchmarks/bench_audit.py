"""The audit log as a Merkle log: durable append rate, proof checks, and the anchor's gas.

`audit_append_per_s` is the durable rate of rows that arrive together: `AuditLog.append_many`
of decision-sized rows in batches of `BATCH` (a burst of checks), each batch committed in one
transaction when the call returns (WAL, synchronous=NORMAL: survives SIGKILL), with the
hash-chain link, the RFC 6962 frontier update and a checkpoint row every 1,000 entries (in the
batch's transaction), and the log's WAL checkpointer thread running beside it. The named
baseline, measured back to back in the same run, is a bare sqlite3 executemany of the same rows
already built, one transaction per batch of `BATCH`, on the same schema with the same pragmas and
the same checkpointer thread (what SQLite itself costs); the ratio is the log's own overhead.
`audit_append_single_per_s` is a lone caller's `AuditLog.append`, one commit per row (what the
risk service gets today: it appends each check's row from its event loop), and
`audit_append_grouped_vs_single_ratio` the speed-up of one over the other. Each reports its
median and range over the runs, with the 1-minute load average seen (the machine's other work
slows them all). `audit_merkle_append_us` isolates the Merkle log's share: leaf hash plus
frontier update per entry, in memory. `gas_anchor_checkpoint` is a mined
`AuditAnchor.checkpoint` with its consistency proof on Anvil (receipt gasUsed) over a step of
`STEP` entries, once the latest-checkpoint slots are set; `…_first` is the first one (fresh
slots, no proof needed from size 0).
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

ENTRIES, RUNS, EVERY, BATCH, STEP = 20_000, 5, 1_000, 100, 500
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


def _append_rate(path: Path, rows: list[tuple[str, str, str, str, str]], batch: int) -> float:
    """`append_many` in batches of `batch` rows; `append` row by row when `batch` is 1."""
    log = AuditLog(path, checkpoint_every=EVERY, checkpoint_seconds=None)  # its own checkpointer
    t0 = time.perf_counter()
    if batch == 1:
        for i, row in enumerate(rows):
            log.append(*row, at_ns=T0 + i)
    else:
        for i in range(0, len(rows), batch):
            log.append_many(rows[i : i + batch], at_ns=T0 + i)
    seconds = time.perf_counter() - t0
    log.close()
    return len(rows) / seconds


def _sqlite_rate(path: Path, rows: list[tuple[str, str, str, str, str]], batch: int) -> float:
    """The same rows, prebuilt with their links, one executemany and commit per batch."""
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
    for i in range(0, len(built), batch):
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", built[i : i + batch])
        db.execute("COMMIT")
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


def _gas(folder: Path) -> tuple[int, int, int]:
    """Gas of the first checkpoint (from 0) and the largest of the next 4, each `STEP` entries
    past the one before with the log's consistency proof; and that proof's length."""
    log = AuditLog(folder / "anchored.sqlite", checkpoint_every=STEP, checkpoint_seconds=None)
    log.append_many(decisions(5 * STEP), at_ns=T0)
    checkpoints = log.checkpoints()
    with anvil() as node:
        admin = ChainClient.connect(node.url, DEV_PRIVATE_KEYS[0])
        writer = admin.with_key(DEV_PRIVATE_KEYS[1])
        deployed = AuditAnchor.deploy(admin, writer=writer.account.address)
        anchor = AuditAnchor.at(writer, deployed.address)
        gas, before, hashes = [], 0, 0
        for c in checkpoints:
            proof = log.consistency_proof(before, c.size)
            gas.append(int(anchor.checkpoint(c.size, c.root, proof)["gasUsed"]))
            before, hashes = c.size, max(hashes, len(proof))
    log.close()
    return gas[0], max(gas[1:]), hashes


def run() -> dict[str, Metric]:
    rows = decisions()
    load_before = os.getloadavg()[0]
    folder = Path(tempfile.mkdtemp(prefix="zkrisk-bench-audit-"))
    try:
        _append_rate(folder / "warm.sqlite", rows[:2_000], BATCH)
        appends, bare, single = [], [], []
        for r in range(RUNS):
            appends.append(_append_rate(folder / f"log-{r}.sqlite", rows, BATCH))
            bare.append(_sqlite_rate(folder / f"bare-{r}.sqlite", rows, BATCH))
            single.append(_append_rate(folder / f"single-{r}.sqlite", rows, 1))
        merkle = statistics.median(_merkle_us(rows) for _ in range(RUNS))
        verify_log = folder / "log-0.sqlite"
        t0 = time.perf_counter()
        report = check_checkpoints(tree_of(read_rows(verify_log)), read_checkpoints(verify_log))
        verify_ms = (time.perf_counter() - t0) * 1000
        assert report.ok and report.checked == ENTRIES // EVERY
        first, steady, hashes = _gas(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    a, b = statistics.median(appends), statistics.median(bare)
    ratio = statistics.median(x / y for x, y in zip(bare, appends, strict=True))
    grouped = statistics.median(x / y for x, y in zip(appends, single, strict=True))
    load_after = os.getloadavg()[0]
    shape = (f"{ENTRIES:,} decision rows (~250 bytes of JSON each) into a fresh file, median of {RUNS}; "
             f"1-min load average {load_before:.1f} before, {load_after:.1f} after, "
             f"on {os.cpu_count()} cores")  # fmt: skip
    notes = {
        "audit_append_per_s": f"AuditLog.append_many of rows arriving {BATCH} at a time, each "
        "batch committed in one transaction on return (WAL synchronous=NORMAL), hash chain + "
        "RFC 6962 frontier + a checkpoint row every 1,000, the log's WAL checkpointer thread "
        f"beside it; {shape}; runs {min(appends):,.0f}–{max(appends):,.0f}; target ≥ 20,000",
        "audit_append_single_per_s": "AuditLog.append by a lone caller, one commit per row (the "
        f"risk service's shape today); {shape}; runs {min(single):,.0f}–{max(single):,.0f}",
        "audit_append_baseline_sqlite_per_s": "bare sqlite3 executemany of the same prebuilt "
        f"rows, one transaction per {BATCH}, same schema, pragmas (wal_autocheckpoint "
        f"{FALLBACK_PAGES:,}) and checkpointer thread; {shape}; runs {min(bare):,.0f}–"
        f"{max(bare):,.0f}",
        "audit_append_grouped_vs_single_ratio": f"AuditLog.append_many ({BATCH} a commit) / "
        "AuditLog.append (one a commit), median of the per-run pairs: what group commit buys, "
        "less swayed by the machine's load than either rate",
        "audit_append_vs_sqlite_ratio": "baseline / AuditLog.append_many (median of the per-run "
        "pairs): the cost of the chain link, the Merkle log and the checkpoints",
        "audit_merkle_append_us": "the Merkle log's share of an append, in memory: leaf hash "
        f"+ frontier update, median of {RUNS} passes over {ENTRIES:,} rows",
        "audit_verify_20_checkpoints_ms": f"zkrisk audit verify's checkpoint check over "
        f"{ENTRIES:,} entries and {ENTRIES // EVERY} checkpoints: every root recomputed, "
        "consistency proofs between successive ones (rows read from the file)",
        "gas_anchor_checkpoint": "AuditAnchor.checkpoint(size, root, proof), mined on Anvil "
        f"(receipt gasUsed): {STEP:,} entries past the latest anchored checkpoint with the "
        f"log's RFC 6962 consistency proof (up to {hashes} hashes, verified on-chain by the "
        "SHA-256 precompile), the latest-checkpoint slots already set; the largest of 4; "
        "target ≤ 80,000",
        "gas_anchor_checkpoint_first": f"the first AuditAnchor.checkpoint (size {STEP:,} from "
        "0: no proof; fresh storage slots)",
    }
    values = {"audit_append_per_s": (a, "entries/s", RUNS),
              "audit_append_single_per_s": (statistics.median(single), "entries/s", RUNS),
              "audit_append_baseline_sqlite_per_s": (b, "entries/s", RUNS),
              "audit_append_vs_sqlite_ratio": (ratio, "x", RUNS),
              "audit_append_grouped_vs_single_ratio": (grouped, "x", RUNS),
              "audit_merkle_append_us": (merkle, "µs", RUNS),
              "audit_verify_20_checkpoints_ms": (verify_ms, "ms", 1),
              "gas_anchor_checkpoint": (steady, "gas", 4),
              "gas_anchor_checkpoint_first": (first, "gas", 1)}  # fmt: skip
    return {name: metric(v, unit, n, notes[name]) for name, (v, unit, n) in values.items()}
