"""Liquidation transactions the keeper sent, by (account, vault nonce), in a small SQLite file.

A record is written with the signed transaction *before* it is broadcast, so after a crash or a
restart the keeper checks the receipt of what it sent (or re-broadcasts the same signed bytes,
which cannot execute twice) instead of proving and submitting again. Only a record that can
never be mined (`dropped`, or `replaced`: its keeper nonce was spent by another transaction) is
overwritten by a new attempt at the same (account, vault nonce).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Status = Literal["pending", "mined", "reverted", "dropped", "replaced"]

RETRYABLE: tuple[Status, ...] = ("dropped", "replaced")
"""Statuses of an attempt that can never be mined: a new attempt may take its place."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS liquidations (
    account     TEXT    NOT NULL,
    vault_nonce INTEGER NOT NULL,
    path        TEXT    NOT NULL,
    snapshot_id INTEGER NOT NULL,
    tx_hash     TEXT    NOT NULL,
    raw_tx      BLOB    NOT NULL,
    status      TEXT    NOT NULL,
    created_at  REAL    NOT NULL,
    updated_at  REAL    NOT NULL,
    PRIMARY KEY (account, vault_nonce)
)
"""


@dataclass(frozen=True)
class PendingTx:
    """One liquidation transaction the keeper signed."""

    account: str
    vault_nonce: int
    path: str
    snapshot_id: int
    tx_hash: str
    raw_tx: bytes
    status: Status


class PendingStore:
    """The keeper's memory of what it sent; safe to reopen after a crash."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def record(self, tx: PendingTx) -> None:
        """Remember a signed transaction before it is broadcast; it replaces a dropped or
        replaced attempt, never a pending, mined or reverted one (sqlite3.IntegrityError)."""
        self._insert(tx, time.time())

    def record_many(self, txs: Sequence[PendingTx]) -> None:
        """`record` each of `txs` (a batch's records, same signed bytes) in one SQLite
        transaction, one commit instead of one per record: all are recorded, or, if one may not
        be (sqlite3.IntegrityError, as `record`), none is."""
        now = time.time()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for tx in txs:
                self._insert(tx, now)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _insert(self, tx: PendingTx, now: float) -> None:
        cursor = self._db.execute(
            "INSERT INTO liquidations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (account, vault_nonce) DO UPDATE SET path = excluded.path, "
            "snapshot_id = excluded.snapshot_id, tx_hash = excluded.tx_hash, "
            "raw_tx = excluded.raw_tx, status = excluded.status, created_at = excluded.created_at, "
            "updated_at = excluded.updated_at "
            f"WHERE liquidations.status IN {RETRYABLE}",
            (tx.account.lower(), tx.vault_nonce, tx.path, tx.snapshot_id, tx.tx_hash, tx.raw_tx,
             tx.status, now, now),
        )  # fmt: skip
        if cursor.rowcount != 1:
            raise sqlite3.IntegrityError(
                f"a live liquidation of {tx.account} at vault nonce {tx.vault_nonce} is already "
                "recorded; settle it before sending another"
            )

    def set_status(self, account: str, vault_nonce: int, status: Status) -> None:
        self._db.execute(
            "UPDATE liquidations SET status = ?, updated_at = ? WHERE account = ? AND vault_nonce = ?",
            (status, time.time(), account.lower(), vault_nonce),
        )

    def get(self, account: str, vault_nonce: int) -> PendingTx | None:
        row = self._db.execute(
            "SELECT account, vault_nonce, path, snapshot_id, tx_hash, raw_tx, status "
            "FROM liquidations WHERE account = ? AND vault_nonce = ?",
            (account.lower(), vault_nonce),
        ).fetchone()
        return None if row is None else PendingTx(*row)

    def open(self) -> list[PendingTx]:
        """Every transaction still pending (sent or about to be), oldest first."""
        rows = self._db.execute(
            "SELECT account, vault_nonce, path, snapshot_id, tx_hash, raw_tx, status "
            "FROM liquidations WHERE status = 'pending' ORDER BY created_at"
        ).fetchall()
        return [PendingTx(*row) for row in rows]

    def all(self) -> list[PendingTx]:
        rows = self._db.execute(
            "SELECT account, vault_nonce, path, snapshot_id, tx_hash, raw_tx, status "
            "FROM liquidations ORDER BY created_at"
        ).fetchall()
        return [PendingTx(*row) for row in rows]
