"""SQLite files in WAL mode: how the service's small state files are opened, and the thread
that checkpoints a busy writer's WAL beside it (the journal's and the audit log's).

`open_wal_db` opens the audit log's and the risk service's approval state file.
synchronous=NORMAL: a commit is durable against a process crash (SIGKILL, OOM) without an fsync
per decision, which the pre-trade latency budget (milliseconds) could not afford; a power cut
may lose the last commits but never corrupts the file. The journal (`journal/sqlite.py`) opens
its file itself: it also offers durability="power" and a schema version check.

Checkpoints. SQLite checkpoints a WAL file (copies its pages back into the database and fsyncs
it) inside whichever commit takes the WAL past `wal_autocheckpoint` pages (1,000 by default):
about half of what SQLite spends on a one-row commit, and a stall of milliseconds for whichever
caller hits it. A writer that runs a `Checkpointer` raises that threshold to `FALLBACK_PAGES`,
and the checkpointer's thread runs a PASSIVE checkpoint (it never blocks the writer; the sqlite3
module releases the GIL while it copies) at most every `interval` seconds after a commit, so the
copying happens beside the committing thread. A WAL restarts from its start only once a
checkpoint has copied all of it before the next write begins, which a writer committing without
pause seldom allows: then SQLite's own checkpoint in the writer still runs at `FALLBACK_PAGES`,
but finds all but the last frames copied. It also bounds the WAL if the checkpoints fall behind
(a slow disk, a reader holding an old snapshot). A checkpoint interrupted by a crash loses
nothing: the WAL keeps every committed frame until the database file has them and is synced.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path

FALLBACK_PAGES = 10_000
"""A checkpointed writer's `wal_autocheckpoint`: it checkpoints itself only past this WAL size
(~40 MB)."""


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


class Checkpointer:
    """Checkpoints one WAL file after its writer's commits (`committed`) until `close`; the
    writer sets `PRAGMA wal_autocheckpoint=FALLBACK_PAGES` on its own connection."""

    def __init__(self, path: Path, synchronous: str, interval: float = 0.1) -> None:
        self._interval = interval
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self.checkpoints = 0
        """PASSIVE checkpoints run so far."""
        self.max_wal_frames = 0
        """The largest WAL (in frames) a checkpoint has found."""
        # Opened here, so a file it cannot open fails the writer's constructor, not the thread.
        self._db = sqlite3.connect(path, isolation_level=None, timeout=1.0,
                                   check_same_thread=False)  # fmt: skip
        try:
            # The checkpoint's fsyncs follow the writer's durability (FULL: the journal's 'power').
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self.synchronous = int(self._db.execute("PRAGMA synchronous").fetchone()[0])
            """The level its checkpoints sync at (1 NORMAL, 2 FULL), as SQLite reports it."""
        except BaseException:
            self._db.close()
            raise
        self._thread = threading.Thread(target=self._run, name=f"zkrisk-checkpoint {path.name}",
                                        daemon=True)  # fmt: skip
        self._thread.start()

    def committed(self) -> None:
        """The writer committed: checkpoint soon (at most once per `interval`)."""
        if not self._dirty.is_set():  # a plain read; set() takes a lock and notifies
            self._dirty.set()

    def _run(self) -> None:
        db = self._db
        try:
            while not self._stop.is_set():
                self._dirty.wait()
                self._dirty.clear()
                if self._stop.is_set():
                    break
                # Busy (the writer's own checkpoint is running): the next round does it.
                with contextlib.suppress(sqlite3.OperationalError):
                    # fetchall() ends the statement: an open one would pin the WAL.
                    ((_, frames, _),) = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                    self.max_wal_frames = max(self.max_wal_frames, frames)
                self._stop.wait(self._interval)
        finally:
            db.close()

    def stop(self) -> None:
        """Ask the thread to end after its current checkpoint (safe from any thread)."""
        self._stop.set()
        self._dirty.set()

    def close(self) -> None:
        """Stop the thread and wait until it has closed its connection."""
        self.stop()
        self._thread.join()
