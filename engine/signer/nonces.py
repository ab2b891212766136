"""Approval nonces the signer has used, in SQLite: each signs one transaction, ever.

A nonce is claimed (inserted and committed: autocommit, synchronous=NORMAL survives SIGKILL)
before the transaction is signed, so a crash between signing and replying leaves it used: a
retry of the very same request gets the same signature again (RFC 6979 signing is
deterministic: same bytes, same hash, nothing new signed), and the same transaction with other
fees (a replacement: the same wallet nonce, so only one of them can ever mine) is signed too;
any other request under it is a replay.
The rows also count each wallet's recent signatures for the rate limit, across restarts.
"""

from __future__ import annotations

import sqlite3
import threading
from enum import Enum
from pathlib import Path

from ..wal_db import open_wal_db

SCHEMA = """
CREATE TABLE IF NOT EXISTS used_nonces (
    approver TEXT NOT NULL,
    nonce TEXT NOT NULL,
    request TEXT NOT NULL,
    core TEXT NOT NULL,
    wallet TEXT NOT NULL,
    used_at REAL NOT NULL,
    tx_hash TEXT,
    PRIMARY KEY (approver, nonce)
);
CREATE INDEX IF NOT EXISTS used_by_wallet ON used_nonces (wallet, used_at);
"""


class Claim(Enum):
    NEW = "NEW"
    SAME_REQUEST = "SAME_REQUEST"
    """Used before by exactly this request (a retry after a lost reply)."""
    REPLACEMENT = "REPLACEMENT"
    """The transaction signed under it again with other fees only (same wallet nonce, so at most
    one of them can mine): a fee-bump replacement."""
    USED = "USED"


class NonceBook:
    def __init__(self, path: Path) -> None:
        self._db = open_wal_db(path, SCHEMA)
        self._lock = threading.Lock()

    def claim(
        self, approver: str, nonce: int, request: str, core: str, wallet: str, now: float
    ) -> Claim:
        """Mark `nonce` used by `request` (committed on return), or say who used it; `core` is
        the request's fingerprint without the transaction's fees."""
        with self._lock:
            try:
                self._db.execute("INSERT INTO used_nonces (approver, nonce, request, core, "
                                 "wallet, used_at) VALUES (?, ?, ?, ?, ?, ?)",
                                 (approver, str(nonce), request, core, wallet, now))  # fmt: skip
                return Claim.NEW
            except sqlite3.IntegrityError:
                row = self._db.execute("SELECT request, core FROM used_nonces WHERE approver = ? "
                                       "AND nonce = ?", (approver, str(nonce))).fetchone()  # fmt: skip
                if row is not None and row[0] == request:
                    return Claim.SAME_REQUEST
                return Claim.REPLACEMENT if row is not None and row[1] == core else Claim.USED

    def signed(self, approver: str, nonce: int, tx_hash: str) -> None:
        with self._lock:
            self._db.execute("UPDATE used_nonces SET tx_hash = ? WHERE approver = ? AND nonce = ?",
                             (tx_hash, approver, str(nonce)))  # fmt: skip

    def recent(self, wallet: str, since: float) -> int:
        """Signatures for `wallet` since `since` (unix seconds)."""
        with self._lock:
            row = self._db.execute("SELECT COUNT(*) FROM used_nonces WHERE wallet = ? AND "
                                   "used_at > ?", (wallet, since)).fetchone()  # fmt: skip
        return int(row[0])

    def close(self) -> None:
        self._db.close()
