"""The one way the service's small state files are opened: SQLite in WAL mode, one file.

The audit log and the risk service's approval state share it. synchronous=NORMAL: a commit is
durable against a process crash (SIGKILL, OOM) without an fsync per decision, which the
pre-trade latency budget (milliseconds) could not afford; a power cut may lose the last commits
but never corrupts the file. The journal (`journal/sqlite.py`) opens its file itself: it also
offers durability="power" and a schema version check.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_wal_db(path: str | Path, schema: str) -> sqlite3.Connection:
    """Open (creating folders and tables as needed) a WAL SQLite file shared across threads;
    the caller serialises access with its own lock and commits explicitly (autocommit mode)."""
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(file, check_same_thread=False, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(schema)
    except BaseException:
        db.close()
        raise
    return db
