"""The journal's background checkpointer: it keeps the WAL short off the append path, stops
with close(), follows the journal's durability, and a SIGKILL while it works loses nothing."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from zkrisk.engine.journal import sqlite
from zkrisk.engine.journal.checkpointer import FALLBACK_PAGES
from zkrisk.engine.journal.sqlite import SQLiteJournal

from .journal_fixtures import quote

REPO = Path(__file__).resolve().parents[2]


def _checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("zkrisk-checkpoint")]


def _append(journal: SQLiteJournal, batches: int, size: int, start: int = 0) -> None:
    for b in range(batches):
        journal.append([quote(start + b * size + i + 1) for i in range(size)])


def test_appends_are_checkpointed_into_the_file_by_the_background_thread(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with SQLiteJournal(path) as journal:
        empty = path.stat().st_size
        _append(journal, 20, 200)
        # The last commit asked for a checkpoint: within an interval the rows are in the file
        # itself (the writer alone would not checkpoint before FALLBACK_PAGES).
        deadline = time.monotonic() + 5
        while path.stat().st_size <= empty + 4000 * 100 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert path.stat().st_size > empty + 4000 * 100
        checkpointer = journal._checkpointer
        assert checkpointer is not None
        checkpointer.close()  # waits for the round under way: the counters are final
        assert checkpointer.checkpoints > 0
        assert 0 < checkpointer.max_wal_frames < FALLBACK_PAGES
        # the writer checkpoints only past FALLBACK_PAGES (SQLite's default is 1,000)
        pragma = journal._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        assert pragma == FALLBACK_PAGES
        assert journal.verify().intact and journal.head() == 4000


def test_without_the_checkpointer_the_writer_still_bounds_the_wal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A checkpointer that cannot keep up (here: stopped): SQLite's own checkpoint in the
    # writer takes over at FALLBACK_PAGES (lowered from 10,000 so the test stays small).
    monkeypatch.setattr(sqlite, "FALLBACK_PAGES", 200)
    path = tmp_path / "journal.db"
    with SQLiteJournal(path) as journal:
        assert journal._checkpointer is not None
        journal._checkpointer.close()
        _append(journal, 40, 100)
        frames = Path(f"{path}-wal").stat().st_size // (24 + 4096)
        assert 200 <= frames < 300  # past 200 only by the commit that crossed it
        assert journal.head() == 4000 and journal.verify().intact


def test_close_stops_the_checkpointer_and_checkpoints_the_whole_wal(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    before = _checkpoint_threads()
    journal = SQLiteJournal(path)
    _append(journal, 5, 100)
    assert len(_checkpoint_threads()) == len(before) + 1
    journal.close()
    assert _checkpoint_threads() == before
    assert not Path(f"{path}-wal").exists()  # the last connection folded the WAL in
    with SQLiteJournal(path, readonly=True) as reader:
        assert reader.head() == 500 and reader._checkpointer is None


def test_a_journal_dropped_without_close_stops_its_checkpointer(tmp_path: Path) -> None:
    journal = SQLiteJournal(tmp_path / "journal.db")
    assert journal._checkpointer is not None
    thread = journal._checkpointer._thread
    db = journal._db
    del journal
    gc.collect()
    thread.join(timeout=5)
    assert not thread.is_alive()
    db.close()


def test_the_checkpointer_syncs_as_the_journal_durability_says(tmp_path: Path) -> None:
    for durability, level in (("process", 1), ("power", 2)):  # NORMAL, FULL
        with SQLiteJournal(tmp_path / f"{durability}.db", durability=durability) as journal:
            assert journal._checkpointer is not None
            journal._checkpointer.close()
            # its connection is closed with the thread; reopen one as it was configured
            assert journal._checkpointer.synchronous == level


def test_a_kill_during_heavy_appends_and_checkpoints_loses_no_acknowledged_batch(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.db"
    env = {k: v for k, v in os.environ.items() if k != "ZKRISK_CRASH_AT"}
    size = 200
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.journal.crash_worker", "batches", str(path), "400",
         str(size)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert worker.stdout is not None
    acked = -1
    for line in worker.stdout:  # kill once checkpoints have copied rows into the file
        acked = int(line.split()[1])
        if acked >= 40 and path.stat().st_size > 20 * size * 100:
            break
    os.kill(worker.pid, signal.SIGKILL)  # mid-append, quite likely mid-checkpoint
    worker.communicate()
    assert worker.returncode == -signal.SIGKILL and acked < 399
    with SQLiteJournal(path) as journal:
        head = journal.head()
        assert head >= (acked + 1) * size and head % size == 0  # every acknowledged batch, whole
        records = list(journal.iter_from(0))
        assert [r.key for r in records] == [quote(n).key for n in range(1, head + 1)]
        assert journal.verify().intact
