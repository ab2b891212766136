"""Every call the signer signed without an approval (`POST /v1/sign-call`), in the nonce book's
SQLite file: what was signed for whom and when, and the calls' share of each wallet's rate limit
(counted with the approvals' signatures, across restarts)."""

from __future__ import annotations

import threading
from pathlib import Path

from ..wal_db import open_wal_db

SCHEMA = """
CREATE TABLE IF NOT EXISTS signed_calls (
    tx_hash TEXT NOT NULL,
    wallet TEXT NOT NULL,
    target TEXT NOT NULL,
    rule TEXT NOT NULL,
    request TEXT NOT NULL,
    signed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS calls_by_wallet ON signed_calls (wallet, signed_at);
"""


class CallLog:
    def __init__(self, path: Path) -> None:
        self._db = open_wal_db(path, SCHEMA)
        self._lock = threading.Lock()

    def record(
        self, tx_hash: str, wallet: str, target: str, rule: str, request: str, now: float
    ) -> None:
        """Committed before the signature is returned: a signature is never off the record."""
        with self._lock:
            self._db.execute("INSERT INTO signed_calls (tx_hash, wallet, target, rule, request, "
                             "signed_at) VALUES (?, ?, ?, ?, ?, ?)",
                             (tx_hash, wallet, target, rule, request, now))  # fmt: skip

    def recent(self, wallet: str, since: float) -> int:
        with self._lock:
            row = self._db.execute("SELECT COUNT(*) FROM signed_calls WHERE wallet = ? AND "
                                   "signed_at > ?", (wallet, since)).fetchone()  # fmt: skip
        return int(row[0])

    def close(self) -> None:
        self._db.close()
