"""An append-only audit log of every decision, in one SQLite file.

Rows are never updated or deleted: SQLite triggers abort any UPDATE or DELETE, and each row
carries sha256(previous row's hash, its own fields), so an edit made behind the triggers' back
(another tool, a hex editor) breaks the chain and `verify()` names the first bad row. The chain
is the journal's (`zkrisk.engine.journal.chain`): one link function and one verifier for both.

Sequence numbers are handed out by `reserve()` before a row is written so that a decision can
quote its own number (the risk service uses it as the approval nonce); a crash between the two
leaves a gap, never a duplicate.

The rows are also the leaves of an RFC 6962 Merkle log (`audit_proofs`: leaf i is the i-th row
by seq, its data the bytes the chain link hashes). The log keeps the tree's frontier in memory
(one leaf hash and on average one node hash per append) and writes a checkpoint (size, root)
every `checkpoint_every` rows and every `checkpoint_seconds` with new rows, and on close; each
checkpoint is handed to `on_checkpoint` (the anchor sender, when a chain is configured).
`reserve()`d numbers must be appended in the order reserved (the risk service does, from its
event loop): the chain and the tree both follow seq order.

Append cost. Each append is one INSERT committed on its own (WAL, synchronous=NORMAL: in the WAL
file when `append` returns, so it survives the process being killed). SQLite's WAL checkpoints
run beside the appends, from a `wal_db.Checkpointer` thread, not inside them. The chain link is
framed by one f-string (`_framed`), and the only index besides the primary key covers the rare
kinds (`audit_rare`: kill-switch rows, not the order checks that are almost every row), which
`last` and `records` of those kinds use; the checks are read in seq order anyway.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from .audit_merkle import Frontier, leaf_hash
from .audit_proofs import Checkpoint, row_leaf
from .journal.chain import GENESIS, TEXT_PREFIX, ChainRow, framed, link
from .journal.chain import verify as verify_chain
from .wal_db import FALLBACK_PAGES, Checkpointer, open_wal_db

CHECK = "check"
"""The kind of (almost) every row: one per order check."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq      INTEGER PRIMARY KEY,
    at_ns    INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    subject  TEXT NOT NULL,
    outcome  TEXT NOT NULL,
    request  TEXT NOT NULL,
    response TEXT NOT NULL,
    prev     TEXT NOT NULL,
    hash     TEXT NOT NULL
);
DROP INDEX IF EXISTS audit_kind;  -- older files indexed every kind: each check paid for it
CREATE INDEX IF NOT EXISTS audit_rare ON audit (kind, seq) WHERE kind <> 'check';
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS audit_checkpoint (
    size     INTEGER PRIMARY KEY,  -- the first `size` rows by seq ...
    last_seq INTEGER NOT NULL,     -- ... up to this seq ...
    root     TEXT NOT NULL,        -- ... hash to this RFC 6962 root (hex)
    at_ns    INTEGER NOT NULL,
    frontier BLOB NOT NULL         -- the tree's frontier at `size`: resume without rehashing
);
CREATE TRIGGER IF NOT EXISTS audit_checkpoint_no_update BEFORE UPDATE ON audit_checkpoint
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_checkpoint_no_delete BEFORE DELETE ON audit_checkpoint
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS audit_anchor (
    size  INTEGER PRIMARY KEY,     -- a checkpoint anchored on-chain ...
    tx    TEXT NOT NULL,           -- ... by this transaction ...
    block INTEGER NOT NULL         -- ... mined in this block
);
"""

log = logging.getLogger(__name__)

CHECKPOINT_EVERY = 1000
"""Rows between checkpoints (the default)."""
CHECKPOINT_SECONDS = 60.0
"""Seconds between checkpoints while rows arrive (the default)."""


class AuditRecord(NamedTuple):
    """One decision as stored (a tuple: built once per append, it costs a tenth of a
    frozen dataclass)."""

    seq: int
    at_ns: int  # wall clock, unix nanoseconds
    kind: str  # 'check', 'killswitch', ...
    subject: str  # client order id, or who acted
    outcome: str  # APPROVE / REJECT / FLAG_FOR_REVIEW, ENGAGED / RELEASED, ...
    request: str  # JSON
    response: str  # JSON
    prev: str
    hash: str


def row_hash(prev: str, seq: int, at_ns: int, kind: str, subject: str, outcome: str,
             request: str, response: str) -> str:  # fmt: skip
    """The chain link: sha256 over the previous hash and every field, length-prefixed."""
    return link(prev, (seq, at_ns, kind, subject, outcome, request, response))


def _framed(prev: str, seq: int, at_ns: int, kind: str, subject: str, outcome: str,
            request: str, response: str) -> bytes:  # fmt: skip
    """`framed(prev, (seq, at_ns, kind, subject, outcome, request, response))`: the same
    bytes, by one f-string when every field is ASCII and shorter than the cached frames."""
    s, t = str(seq), str(at_ns)
    if (prev + kind + subject + outcome + request + response).isascii():
        f = TEXT_PREFIX
        try:
            return (f"{f[len(prev)]}{prev}{f[len(s)]}{s}{f[len(t)]}{t}{f[len(kind)]}{kind}"
                    f"{f[len(subject)]}{subject}{f[len(outcome)]}{outcome}"
                    f"{f[len(request)]}{request}{f[len(response)]}{response}").encode("latin-1")  # fmt: skip
        except IndexError:  # a field of SHORT characters or more
            pass
    return framed(prev, (seq, at_ns, kind, subject, outcome, request, response))


def _by_kind(kind: str) -> str:
    """The WHERE clause of one kind's rows. For a rare kind it repeats the partial index's
    condition: without it SQLite cannot tell that a bound kind lies in the index."""
    return "kind = ?" if kind == CHECK else f"kind = ? AND kind <> '{CHECK}'"


def chain_row(r: AuditRecord) -> ChainRow:
    """An audit row as the shared chain verifier sees it."""
    fields = (r.seq, r.at_ns, r.kind, r.subject, r.outcome, r.request, r.response)
    return ChainRow(r.seq, fields, r.prev, r.hash)


class AuditLog:
    """Append-only decision log over one SQLite file (WAL mode; safe across threads)."""

    def __init__(self, path: str | Path, *, checkpoint_every: int = CHECKPOINT_EVERY,
                 checkpoint_seconds: float | None = CHECKPOINT_SECONDS,
                 on_checkpoint: Callable[[Checkpoint], None] | None = None) -> None:  # fmt: skip
        if checkpoint_every < 1:
            raise ValueError(f"checkpoint_every is {checkpoint_every}: it must be at least 1")
        self.path = Path(path)
        self._db = open_wal_db(self.path, _SCHEMA)  # durable against a process crash
        try:
            self._db.execute(f"PRAGMA wal_autocheckpoint={FALLBACK_PAGES}")  # see wal_db.py
            self._wal = Checkpointer(self.path, "NORMAL")
        except BaseException:
            self._db.close()
            raise
        # A log dropped without close() stops its thread all the same.
        weakref.finalize(self, self._wal.stop)
        self._lock = threading.Lock()
        last = self._db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        self._next = 1 if last is None else int(last[0]) + 1
        self._head = GENESIS if last is None else str(last[1])
        self._every = checkpoint_every
        self._on_checkpoint = on_checkpoint
        self._frontier, self._last_seq = self._resume_tree()
        self._checkpointed = self._latest_size()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        if checkpoint_seconds is not None:
            self._ticker = threading.Thread(target=self._tick, args=(checkpoint_seconds,),
                                            name="zkrisk-audit-checkpoint", daemon=True)  # fmt: skip
            self._ticker.start()

    def _latest(self) -> Checkpoint | None:
        row = self._db.execute(
            "SELECT size, last_seq, root, at_ns, frontier FROM audit_checkpoint "
            "ORDER BY size DESC LIMIT 1"
        ).fetchone()
        return None if row is None else _checkpoint(row)

    def _latest_size(self) -> int:
        latest = self._latest()
        return 0 if latest is None else latest.size

    def _resume_tree(self) -> tuple[Frontier, int]:
        """The frontier of the latest checkpoint, extended by the rows written after it."""
        latest, frontier = self._latest(), Frontier()
        if latest is not None:
            try:
                frontier = Frontier.from_bytes(latest.size, latest.frontier)
                intact = frontier.root() == latest.root
            except ValueError:  # not a frontier of that size
                intact = False
            if not intact:
                # A damaged checkpoint row (verify names it): rehash every row instead, so the
                # checkpoints written from now on are the log's own.
                log.warning("%s: the checkpoint at size %d does not match its frontier; "
                            "rebuilding the Merkle tree from every row", self.path, latest.size)  # fmt: skip
                latest, frontier = None, Frontier()
        last_seq = 0 if latest is None else latest.last_seq
        for row in self._db.execute("SELECT * FROM audit WHERE seq > ? ORDER BY seq", (last_seq,)):
            r = AuditRecord(*row)
            frontier.append(row_leaf(r.prev, chain_row(r).fields))
            last_seq = r.seq
        return frontier, last_seq

    def reserve(self) -> int:
        """The next sequence number, reserved for one `append`."""
        with self._lock:
            seq = self._next
            self._next += 1
            return seq

    def append(self, kind: str, subject: str, outcome: str, request: str, response: str,
               *, seq: int | None = None, at_ns: int | None = None) -> AuditRecord:  # fmt: skip
        """Write one row (committed on return); `seq` from `reserve()`, else the next one."""
        with self._lock:
            if seq is None:
                seq = self._next
                self._next += 1
            stamp = time.time_ns() if at_ns is None else at_ns
            # One framing for both: the chain link and the Merkle leaf hash the same bytes.
            data = _framed(self._head, seq, stamp, kind, subject, outcome, request, response)
            record = AuditRecord(seq, stamp, kind, subject, outcome, request, response,
                                 self._head, hashlib.sha256(data).hexdigest())  # fmt: skip
            self._db.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", record)
            self._head = record.hash
            self._frontier.append(leaf_hash(data))
            self._last_seq = seq
            if self._frontier.size - self._checkpointed >= self._every:
                self._write_checkpoint()
            self._wal.committed()
            return record

    def checkpoint(self) -> Checkpoint | None:
        """Write a checkpoint of the rows so far (unless the latest one covers them all);
        the latest checkpoint, None while the log is empty."""
        with self._lock:
            if self._frontier.size > self._checkpointed:
                self._write_checkpoint()
                self._wal.committed()
            return self._latest()

    def _write_checkpoint(self) -> None:
        size = self._frontier.size
        c = Checkpoint(size, self._last_seq, self._frontier.root(), time.time_ns(),
                       self._frontier.to_bytes())  # fmt: skip
        # OR IGNORE: `zkrisk audit checkpoint` may have checkpointed this very size already.
        self._db.execute("INSERT OR IGNORE INTO audit_checkpoint VALUES (?, ?, ?, ?, ?)",
                         (c.size, c.last_seq, c.root.hex(), c.at_ns, c.frontier))  # fmt: skip
        self._checkpointed = size
        if self._on_checkpoint is not None:
            self._on_checkpoint(c)

    def checkpoints(self) -> list[Checkpoint]:
        """Every checkpoint, by size."""
        with self._lock:
            rows = self._db.execute(
                "SELECT size, last_seq, root, at_ns, frontier FROM audit_checkpoint ORDER BY size"
            ).fetchall()
        return [_checkpoint(row) for row in rows]

    def record_anchor(self, size: int, tx: str, block: int) -> None:
        """Note that the checkpoint at `size` was anchored on-chain by `tx` in `block`."""
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO audit_anchor VALUES (?, ?, ?)",
                             (size, tx, block))  # fmt: skip
            self._wal.committed()

    def _tick(self, seconds: float) -> None:
        while not self._stop.wait(seconds):
            try:
                self.checkpoint()
            except Exception:  # closed under us, or a busy file: the next tick (or close) does it
                if self._stop.is_set():
                    return
                log.exception("%s: could not write the periodic audit checkpoint", self.path)

    def records(self, kind: str | None = None, *, since_ns: int = 0) -> list[AuditRecord]:
        """Rows in sequence order, optionally of one kind, written at or after `since_ns`."""
        sql = "SELECT * FROM audit WHERE at_ns >= ?"
        args: tuple[object, ...] = (since_ns,)
        if kind is not None:
            sql += f" AND {_by_kind(kind)}"
            args = (since_ns, kind)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY seq", args).fetchall()
        return [AuditRecord(*row) for row in rows]

    def last(self, kind: str) -> AuditRecord | None:
        """The newest row of `kind`, None when there is none."""
        with self._lock:
            row = self._db.execute(
                f"SELECT * FROM audit WHERE {_by_kind(kind)} ORDER BY seq DESC LIMIT 1", (kind,)
            ).fetchone()
        return None if row is None else AuditRecord(*row)

    def verify(self) -> int | None:
        """The seq of the first row whose hash chain is broken, or None when all is intact."""
        return verify_chain(chain_row(r) for r in self.records()).bad

    def close(self) -> None:
        """Checkpoint what is not yet checkpointed, then close the file (SQLite folds the
        whole WAL back into it as its last connection closes)."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
        with self._lock:
            self._wal.close()
            if self._frontier.size > self._checkpointed:
                self._write_checkpoint()
            self._db.close()


def _checkpoint(row: tuple[Any, ...]) -> Checkpoint:
    size, last_seq, root, at_ns, frontier = row
    return Checkpoint(int(size), int(last_seq), bytes.fromhex(root), int(at_ns), bytes(frontier))
