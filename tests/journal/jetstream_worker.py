"""A projection process for the SIGKILL test: a durable JetStream consumer applying records to
its own SQLite file, acking after each commit.

    python -m tests.journal.jetstream_worker URL PREFIX DURABLE PROJECTION_DB TOTAL

Each record is applied in one transaction that also stores its position, and skipped if that
position is stored (a redelivery after a crash between commit and ack; redeliveries may come
after newer records, so a "last position" would not do). Crash
points (ZKRISK_CRASH_AT): `projection.before_commit`, `projection.after_commit_before_ack`.
Exits 0 once TOTAL records are applied.
"""

from __future__ import annotations

import sqlite3
import sys

from zkrisk.engine.journal.crashpoints import crash_point
from zkrisk.engine.journal.jetstream_consumer import JetStreamConsumer


def main(url: str, prefix: str, durable: str, db_path: str, total: int) -> None:
    db = sqlite3.connect(db_path, isolation_level=None)
    db.executescript(
        "CREATE TABLE IF NOT EXISTS applied (position INTEGER NOT NULL, key TEXT NOT NULL);"
        "CREATE TABLE IF NOT EXISTS seen (position INTEGER PRIMARY KEY);"
    )
    consumer = JetStreamConsumer(url, durable, prefix=prefix, ack_wait=1.0)
    while db.execute("SELECT count(*) FROM applied").fetchone()[0] < total:
        for record in consumer.fetch(10, wait=0.5):
            db.execute("BEGIN IMMEDIATE")
            new = db.execute("INSERT OR IGNORE INTO seen VALUES (?)", (record.position,))
            if new.rowcount == 1:
                db.execute("INSERT INTO applied VALUES (?, ?)", (record.position, record.key))
            crash_point("projection.before_commit")
            db.execute("COMMIT")
            crash_point("projection.after_commit_before_ack")
            consumer.ack([record])
    consumer.close()


if __name__ == "__main__":
    url, prefix, durable, db_path, total = sys.argv[1:]
    main(url, prefix, durable, db_path, int(total))
