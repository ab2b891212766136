"""Approval nonces the signer has used, in SQLite: each signs one transaction, ever.

A nonce is claimed (inserted and committed: autocommit, synchronous=NORMAL survives SIGKILL)
before the transaction is signed, so a crash between signing and replying leaves it used: a
retry of the very same request gets the same signature again (RFC 6979 signing is
deterministic: same bytes, same hash, nothing new signed), and the same transaction with other
fees (a replacement: the same wallet nonce, so only one of them can ever mine) is signed too;
any other request under it is a replay.
The rows also count each wallet's recent signatures for the rate limit, across restarts.

`deliveries` holds what the signer is to send itself (`broadcast`): the signed bytes and where
the delivery stands: `signed` (recorded with the signature, in its commit), `sending` (a route is
being tried: `route`), `sent` (a route took it, `sent_at`) or `failed` (every allowed route
refused: `detail`; a retry of the request tries again). A restart sends the `signed` and
`sending` ones. The table is new: a file from before it opens, and gains it.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
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
CREATE TABLE IF NOT EXISTS deliveries (
    tx_hash TEXT PRIMARY KEY,
    raw TEXT NOT NULL,
    wallet TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('signed', 'sending', 'sent', 'failed')),
    route TEXT,
    signed_at REAL NOT NULL,
    sent_at REAL,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_open ON deliveries (state);
"""


@dataclass(frozen=True)
class Delivery:
    tx_hash: str
    raw: str
    wallet: str
    state: str
    route: str | None
    signed_at: float
    sent_at: float | None
    detail: str | None


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

    def signed_before(self, approver: str, nonce: int, request: str) -> bool:
        """Did exactly `request` (its fingerprint) get signed under `nonce`?"""
        with self._lock:
            row = self._db.execute("SELECT 1 FROM used_nonces WHERE approver = ? AND nonce = ? "
                                   "AND request = ? AND tx_hash IS NOT NULL",
                                   (approver, str(nonce), request)).fetchone()  # fmt: skip
        return row is not None

    def signed(self, approver: str, nonce: int, tx_hash: str,
               to_deliver: tuple[str, str, float] | None = None) -> None:  # fmt: skip
        """Record the signature; with `to_deliver` (raw, wallet, now) also, in the same commit,
        that the signer is to send it (a crash right after cannot forget it)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("UPDATE used_nonces SET tx_hash = ? WHERE approver = ? AND "
                                 "nonce = ?", (tx_hash, approver, str(nonce)))  # fmt: skip
                if to_deliver is not None:
                    self._insert_delivery(tx_hash, *to_deliver)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _insert_delivery(self, tx_hash: str, raw: str, wallet: str, now: float) -> None:
        self._db.execute("INSERT OR IGNORE INTO deliveries (tx_hash, raw, wallet, state, "
                         "signed_at) VALUES (?, ?, ?, 'signed', ?)",
                         (tx_hash, raw, wallet, now))  # fmt: skip

    def to_deliver(self, tx_hash: str, raw: str, wallet: str, now: float) -> Delivery:
        """The delivery record of `tx_hash`, made (state `signed`) if there is none."""
        with self._lock:
            self._insert_delivery(tx_hash, raw, wallet, now)
            row = self._db.execute("SELECT * FROM deliveries WHERE tx_hash = ?",
                                   (tx_hash,)).fetchone()  # fmt: skip
        return Delivery(*row)

    def sending(self, tx_hash: str, route: str) -> None:
        """`route` is about to be tried (committed first: a crash mid-send says which)."""
        self._set(tx_hash, "sending", route, None)

    def sent(self, tx_hash: str, route: str, now: float) -> None:
        self._set(tx_hash, "sent", route, now)

    def failed(self, tx_hash: str, detail: str) -> None:
        """No route took it (`route` keeps the last one tried)."""
        with self._lock:
            self._db.execute("UPDATE deliveries SET state = 'failed', detail = ? WHERE "
                             "tx_hash = ?", (detail, tx_hash))  # fmt: skip

    def _set(self, tx_hash: str, state: str, route: str, sent_at: float | None) -> None:
        with self._lock:
            self._db.execute("UPDATE deliveries SET state = ?, route = ?, sent_at = ? WHERE "
                             "tx_hash = ?", (state, route, sent_at, tx_hash))  # fmt: skip

    def undelivered(self) -> list[Delivery]:
        """Signed to be sent, not known sent or failed (a crash came between): oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM deliveries WHERE state IN ('signed', "
                                    "'sending') ORDER BY signed_at").fetchall()  # fmt: skip
        return [Delivery(*row) for row in rows]

    def recent(self, wallet: str, since: float) -> int:
        """Signatures for `wallet` since `since` (unix seconds)."""
        with self._lock:
            row = self._db.execute("SELECT COUNT(*) FROM used_nonces WHERE wallet = ? AND "
                                   "used_at > ?", (wallet, since)).fetchone()  # fmt: skip
        return int(row[0])

    def close(self) -> None:
        self._db.close()
