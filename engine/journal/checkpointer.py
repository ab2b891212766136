"""The journal's WAL checkpoints, run from a thread of their own instead of inside appends.

SQLite checkpoints a WAL file (copies its pages back into the database and fsyncs it) inside
whichever commit takes the WAL past `wal_autocheckpoint` pages: about half of what SQLite
spends on a batched append. The writer's connection raises that threshold to
`FALLBACK_PAGES`, and this thread runs a PASSIVE checkpoint (it never blocks the writer;
the sqlite3 module releases the GIL while it copies) at most every `interval` seconds after
a commit, so the copying happens beside the appending thread. A WAL restarts from its start
only once a checkpoint has copied all of it before the next write begins, which a writer
appending without pause seldom allows: then SQLite's own checkpoint in the writer still runs
at `FALLBACK_PAGES`, but finds all but the last frames copied. It also bounds the WAL if the
checkpoints fall behind (a slow disk, a reader holding an old snapshot). A checkpoint
interrupted by a crash loses nothing: the WAL keeps every committed frame until the database
file has them and is synced.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path

FALLBACK_PAGES = 10_000
"""The writer's `wal_autocheckpoint`: it checkpoints itself only past this WAL size (~40 MB)."""


class Checkpointer:
    """Checkpoints one journal file's WAL after commits (`committed`) until `close`."""

    def __init__(self, path: Path, synchronous: str, interval: float = 0.1) -> None:
        self._interval = interval
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self.checkpoints = 0
        """PASSIVE checkpoints run so far."""
        self.max_wal_frames = 0
        """The largest WAL (in frames) a checkpoint has found."""
        # Opened here, so a file it cannot open fails the journal's constructor, not the thread.
        self._db = sqlite3.connect(path, isolation_level=None, timeout=1.0,
                                   check_same_thread=False)  # fmt: skip
        try:
            # The checkpoint's fsyncs follow the journal's durability (FULL: 'power').
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
