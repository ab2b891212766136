"""An append-only audit log of every decision, in one SQLite file.

Rows are never updated or deleted: SQLite triggers abort any UPDATE or DELETE, and each row
carries sha256(previous row's hash, its own fields), so an edit made behind the triggers' back
(another tool, a hex editor) breaks the chain and `verify()` names the first bad row. The chain
is the journal's (`zkrisk.engine.journal.chain`): one link function and one verifier for both.

Sequence numbers are handed out by `reserve()` before a row is written so that a decision can
quote its own number (the risk service uses it as the approval nonce); a crash between the two
leaves a gap, never a duplicate.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .journal.chain import GENESIS, ChainRow, link
from .journal.chain import verify as verify_chain
from .wal_db import open_wal_db

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
CREATE INDEX IF NOT EXISTS audit_kind ON audit (kind, seq);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One decision as stored."""

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


def chain_row(r: AuditRecord) -> ChainRow:
    """An audit row as the shared chain verifier sees it."""
    fields = (r.seq, r.at_ns, r.kind, r.subject, r.outcome, r.request, r.response)
    return ChainRow(r.seq, fields, r.prev, r.hash)


class AuditLog:
    """Append-only decision log over one SQLite file (WAL mode; safe across threads)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db = open_wal_db(self.path, _SCHEMA)  # durable against a process crash
        self._lock = threading.Lock()
        last = self._db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        self._next = 1 if last is None else int(last[0]) + 1
        self._head = GENESIS if last is None else str(last[1])

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
            digest = row_hash(self._head, seq, stamp, kind, subject, outcome, request, response)
            record = AuditRecord(seq, stamp, kind, subject, outcome, request, response,
                                 self._head, digest)  # fmt: skip
            self._db.execute(
                "INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (seq, stamp, kind, subject, outcome, request, response, self._head, digest),
            )
            self._head = digest
            return record

    def records(self, kind: str | None = None, *, since_ns: int = 0) -> list[AuditRecord]:
        """Rows in sequence order, optionally of one kind, written at or after `since_ns`."""
        sql = "SELECT * FROM audit WHERE at_ns >= ?"
        args: tuple[object, ...] = (since_ns,)
        if kind is not None:
            sql += " AND kind = ?"
            args = (since_ns, kind)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY seq", args).fetchall()
        return [AuditRecord(*row) for row in rows]

    def last(self, kind: str) -> AuditRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM audit WHERE kind = ? ORDER BY seq DESC LIMIT 1", (kind,)
            ).fetchone()
        return None if row is None else AuditRecord(*row)

    def verify(self) -> int | None:
        """The seq of the first row whose hash chain is broken, or None when all is intact."""
        return verify_chain(chain_row(r) for r in self.records()).bad

    def close(self) -> None:
        with self._lock:
            self._db.close()
