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

Durability and group commit. When `append` returns, its row is committed (WAL,
synchronous=NORMAL): it is in the WAL file, so it survives the process being killed (SIGKILL,
OOM), though a power cut may lose the last commits (never corrupting the file). Rows that
arrive together share one transaction, since SQLite's per-commit cost (~30 µs) is most of an
append: `append_many` commits a whole batch at once (all or none), and appends from several
threads group-commit: a row is queued under a short lock, and whichever caller gets the
database next commits every row queued so far (the others find theirs committed and return).
A lone caller still commits each row by itself. A commit that fails fails every row queued
with it or after it (each caller's append raises; the chain resumes from the last committed
row, the failed rows' numbers are left as a gap). Checkpoints due within a batch are written
at their exact sizes in the batch's own transaction; `on_checkpoint` sees them once committed.

Append cost. SQLite's WAL checkpoints run beside the appends, from a `wal_db.Checkpointer`
thread, not inside them. The chain link is framed by one f-string (`_framed`), and the only
index besides the primary key covers the rare kinds (`audit_rare`: kill-switch rows, not the
order checks that are almost every row), which `last` and `records` of those kinds use; the
checks are read in seq order anyway.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from .audit_merkle import (
    Frontier,
    ProofError,
    consistency_path,
    consistency_proof_from,
    leaf_hash,
)
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


Entry = tuple[str, str, str, str, str]
"""What `append_many` takes per row: (kind, subject, outcome, request, response)."""

_INSERT = "INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_CHECKPOINT = "INSERT OR IGNORE INTO audit_checkpoint VALUES (?, ?, ?, ?, ?)"


class AuditWriteError(RuntimeError):
    """A row was not written: the commit it was queued for failed (the cause is chained)."""


class _Batch:
    """Rows queued for one transaction, with their Merkle leaves; `done` once it committed or
    failed (`error`). Only the caller holding the database lock commits or fails one."""

    __slots__ = ("done", "error", "leaves", "rows")

    def __init__(self) -> None:
        self.rows: list[AuditRecord] = []
        self.leaves: list[bytes] = []
        self.done = False
        self.error: BaseException | None = None


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
        # Two locks, always taken in this order: `_db_lock` for the connection (commits and
        # reads), `_lock` for the rows being built (numbers, the chain head, the open batch).
        self._db_lock = threading.Lock()
        self._lock = threading.Lock()
        last = self._db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        self._next = 1 if last is None else int(last[0]) + 1
        self._head = GENESIS if last is None else str(last[1])
        self._committed_head = self._head  # the chain resumes here if a commit fails
        self._open = _Batch()
        self._every = checkpoint_every
        self._on_checkpoint = on_checkpoint
        # The tree of the committed rows (and of the batch being committed, under `_db_lock`).
        self._frontier, self._last_seq = self._resume_tree()
        self._checkpointed = self._latest_size()
        self.commits = 0
        """Transactions that wrote rows so far (fewer than the rows when appends group)."""
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
        """Write one row, committed when this returns (see "Durability and group commit");
        `seq` from `reserve()`, else the next one. AuditWriteError or the database's error
        when the commit failed: the row was not written."""
        with self._lock:
            batch = self._open
            record = self._queue(batch, kind, subject, outcome, request, response, seq, at_ns)
        self._commit_through(batch)
        return record

    def append_many(
        self, entries: Sequence[Entry], *, at_ns: int | None = None
    ) -> list[AuditRecord]:
        """Write rows that arrived together, numbered in order and committed in one transaction
        when this returns (all or none, raising as `append` does); `at_ns` stamps them all
        (default: now)."""
        stamp = time.time_ns() if at_ns is None else at_ns
        new, sha256 = tuple.__new__, hashlib.sha256  # tuple.__new__: a NamedTuple's is slower
        with self._lock:
            batch = self._open
            rows, leaves, start = batch.rows, batch.leaves, len(batch.rows)
            head, seq = self._head, self._next
            try:  # `_queue` inlined: it is most of the cost of a row
                for kind, subject, outcome, request, response in entries:
                    data = _framed(head, seq, stamp, kind, subject, outcome, request, response)
                    digest = sha256(data).hexdigest()
                    rows.append(new(AuditRecord, (seq, stamp, kind, subject, outcome, request,
                                                  response, head, digest)))  # fmt: skip
                    leaves.append(sha256(b"\x00" + data).digest())  # leaf_hash(data)
                    head, seq = digest, seq + 1
            except BaseException:
                del rows[start:], leaves[start:]  # not an entry of five strings: none queued
                raise
            self._head, self._next = head, seq
            out = rows[start:]
        self._commit_through(batch)
        return out

    def _queue(self, batch: _Batch, kind: str, subject: str, outcome: str, request: str,
               response: str, seq: int | None, at_ns: int | None) -> AuditRecord:  # fmt: skip
        """Number, stamp and link one row and add it to `batch` (under `_lock`)."""
        if seq is None:
            seq = self._next
            self._next += 1
        stamp = time.time_ns() if at_ns is None else at_ns
        # One framing for both: the chain link and the Merkle leaf hash the same bytes.
        data = _framed(self._head, seq, stamp, kind, subject, outcome, request, response)
        record = AuditRecord(seq, stamp, kind, subject, outcome, request, response,
                             self._head, hashlib.sha256(data).hexdigest())  # fmt: skip
        batch.rows.append(record)
        batch.leaves.append(leaf_hash(data))
        self._head = record.hash
        return record

    def _commit_through(self, batch: _Batch) -> None:
        """Return once `batch` is committed: commit it (and every row queued since) unless a
        caller that got the database first already did; raise if that commit failed."""
        with self._db_lock:
            if not batch.done:
                self._commit_open()
        if batch.error is not None:
            raise AuditWriteError(f"{self.path}: the audit rows queued with this one were not "
                                  f"written ({batch.error})") from batch.error  # fmt: skip

    def _commit_open(self, *, checkpoint: bool = False) -> None:
        """Commit the open batch (under `_db_lock`), with the checkpoints due in it, and one at
        its end when `checkpoint` is asked for and the tree has grown since the latest."""
        with self._lock:
            batch, self._open = self._open, _Batch()
        frontier, checkpointed, every, due = self._frontier, self._checkpointed, self._every, []
        rows, leaves, done = batch.rows, batch.leaves, 0
        while done < len(leaves):  # up to the next checkpoint's size, then checkpoint there
            take = max(1, min(len(leaves) - done, checkpointed + every - frontier.size))
            frontier.extend(leaves[done : done + take])
            done += take
            if frontier.size - checkpointed >= every:
                due.append(_checkpoint_of(frontier, rows[done - 1].seq))
                checkpointed = frontier.size
        last_seq = rows[-1].seq if rows else self._last_seq
        if checkpoint and frontier.size > checkpointed:
            due.append(_checkpoint_of(frontier, last_seq))
        if not batch.rows and not due:
            batch.done = True
            return
        db = self._db
        try:
            if len(batch.rows) == 1 and not due:
                db.execute(_INSERT, batch.rows[0])  # one row: autocommit, no BEGIN/COMMIT
            else:
                db.execute("BEGIN IMMEDIATE")
                try:
                    db.executemany(_INSERT, batch.rows)
                    if due:  # OR IGNORE: `zkrisk audit checkpoint` may have written one
                        db.executemany(_INSERT_CHECKPOINT, [(c.size, c.last_seq, c.root.hex(),
                                       c.at_ns, c.frontier) for c in due])  # fmt: skip
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
        except BaseException as exc:
            # Rows queued since were linked to this batch's rows: they fail with it.
            with self._lock:
                later, self._open = self._open, _Batch()
                self._head = self._committed_head
            for failed in (batch, later):
                failed.error, failed.done = exc, True
            # The frontier took the failed rows' leaves: take it back from the file (rare, so
            # the common path does not copy it first).
            self._frontier, self._last_seq = self._resume_tree()
            self._checkpointed = self._latest_size()
            raise
        self._checkpointed, self._last_seq = checkpointed, last_seq
        if batch.rows:
            self._committed_head = batch.rows[-1].hash
            self.commits += 1
        batch.done = True
        self._wal.committed()
        if self._on_checkpoint is not None:
            for c in due:
                self._on_checkpoint(c)

    def checkpoint(self) -> Checkpoint | None:
        """Write a checkpoint of the rows so far (unless the latest one covers them all);
        the latest checkpoint, None while the log is empty."""
        with self._db_lock:
            self._commit_open(checkpoint=True)
            return self._latest()

    def checkpoints(self) -> list[Checkpoint]:
        """Every checkpoint, by size."""
        with self._db_lock:
            rows = self._db.execute(
                "SELECT size, last_seq, root, at_ns, frontier FROM audit_checkpoint ORDER BY size"
            ).fetchall()
        return [_checkpoint(row) for row in rows]

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        """The RFC 6962 consistency proof from the checkpoint at `size1` (or the empty tree) to
        the tree of the first `size2` rows: from the frontier checkpointed at `size1` and the
        rows after it, read on a connection of its own (appends go on meanwhile)."""
        if size1 == 0 or size1 == size2:
            return consistency_path(size1, size2, _never)
        db = sqlite3.connect(self.path)
        try:
            row = db.execute("SELECT last_seq, frontier FROM audit_checkpoint WHERE size = ?",
                             (size1,)).fetchone()  # fmt: skip
            if row is None:
                raise ProofError(f"{self.path}: no checkpoint at size {size1} to prove from "
                                 "(prove between two of the log's checkpoint sizes)")  # fmt: skip
            rows = db.execute("SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?",
                              (int(row[0]), size2 - size1)).fetchall()  # fmt: skip
        finally:
            db.close()
        if len(rows) < size2 - size1:
            raise ProofError(f"{self.path}: no tree of {size2} rows: the log holds "
                             f"{size1 + len(rows)}")  # fmt: skip
        leaves = [row_leaf(r.prev, chain_row(r).fields) for r in map(AuditRecord._make, rows)]
        return consistency_proof_from(size1, Frontier.from_bytes(size1, row[1]).nodes, leaves)

    def record_anchor(self, size: int, tx: str, block: int) -> None:
        """Note that the checkpoint at `size` was anchored on-chain by `tx` in `block`."""
        with self._db_lock:
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
        """Committed rows in sequence order, optionally of one kind, written at or after
        `since_ns`."""
        sql = "SELECT * FROM audit WHERE at_ns >= ?"
        args: tuple[object, ...] = (since_ns,)
        if kind is not None:
            sql += f" AND {_by_kind(kind)}"
            args = (since_ns, kind)
        with self._db_lock:
            rows = self._db.execute(sql + " ORDER BY seq", args).fetchall()
        return [AuditRecord(*row) for row in rows]

    def last(self, kind: str) -> AuditRecord | None:
        """The newest committed row of `kind`, None when there is none."""
        with self._db_lock:
            row = self._db.execute(
                f"SELECT * FROM audit WHERE {_by_kind(kind)} ORDER BY seq DESC LIMIT 1", (kind,)
            ).fetchone()
        return None if row is None else AuditRecord(*row)

    def verify(self) -> int | None:
        """The seq of the first row whose hash chain is broken, or None when all is intact."""
        return verify_chain(chain_row(r) for r in self.records()).bad

    def close(self) -> None:
        """Commit and checkpoint what is not yet checkpointed, then close the file (SQLite
        folds the whole WAL back into it as its last connection closes)."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
        with self._db_lock:
            self._wal.close()
            self._commit_open(checkpoint=True)
            self._db.close()


def _never(lo: int, hi: int) -> bytes:
    raise ProofError(f"subtree [{lo}, {hi}) asked for by an empty proof")  # unreachable


def _checkpoint_of(frontier: Frontier, last_seq: int) -> Checkpoint:
    return Checkpoint(frontier.size, last_seq, frontier.root(), time.time_ns(),
                      frontier.to_bytes())  # fmt: skip


def _checkpoint(row: tuple[Any, ...]) -> Checkpoint:
    size, last_seq, root, at_ns, frontier = row
    return Checkpoint(int(size), int(last_seq), bytes.fromhex(root), int(at_ns), bytes(frontier))
