"""SIGKILL at the journal's crash points in a real subprocess, then restart: nothing lost
(every acknowledged step is there), nothing applied twice, projections equal a replay."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from zkrisk.engine.journal.projection import StreamHeads, check_projection, load_projection, replay
from zkrisk.engine.journal.sqlite import SQLiteJournal

from .journal_fixtures import quote

REPO = Path(__file__).resolve().parents[2]


def worker(*args: object, crash_at: str | None = None) -> tuple[int, list[int]]:
    """Run the crash worker; returns its exit code and the steps it acknowledged."""
    env = {k: v for k, v in os.environ.items() if k != "ZKRISK_CRASH_AT"}
    if crash_at is not None:
        env["ZKRISK_CRASH_AT"] = crash_at
    done = subprocess.run([sys.executable, "-m", "tests.journal.crash_worker", *map(str, args)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.stderr == "", done.stderr
    acks = [int(line.split()[1]) for line in done.stdout.splitlines()]
    return done.returncode, acks


def test_a_kill_mid_batch_loses_no_acknowledged_batch_and_keeps_none_of_the_torn_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.db"
    code, acks = worker("batches", path, 6, 50, crash_at="journal.mid_batch@4")
    assert code == -signal.SIGKILL and acks == [0, 1, 2]
    with SQLiteJournal(path) as j:
        assert j.head() == 150  # three whole batches: the fourth was never committed
        assert [r.key for r in j.iter_from(0)] == [quote(n).key for n in range(1, 151)]
        assert j.verify().intact
    code, acks = worker("batches", path, 6, 50)  # the writer starts over from batch 0
    assert code == 0 and acks == list(range(6))
    with SQLiteJournal(path) as j:
        keys = [r.key for r in j.iter_from(0)]
        assert keys == [quote(n).key for n in range(1, 301)]  # each once, in order
        assert [r.sequence for r in j.iter_from(0)] == list(range(1, 301))
        assert j.verify().intact


def _derived(path: Path) -> tuple[Counter[str], int, int]:
    with SQLiteJournal(path) as j:
        causes = Counter(r.causation_id or "" for r in j.iter_from(0, streams={"derived"}))
        return causes, j.cursor("derive"), j.head()


def _inputs(path: Path, n: int) -> list[str]:
    with SQLiteJournal(path) as j:
        return [r.key for r in j.append([quote(i) for i in range(1, n + 1)])]


def test_a_kill_between_append_and_cursor_with_the_atomic_form_moves_both_or_neither(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.db"
    inputs = _inputs(path, 40)
    code, acks = worker(
        "consume", path, 7, "atomic", crash_at="journal.after_append_before_cursor@3"
    )
    assert code == -signal.SIGKILL and acks == [0, 1]
    causes, cursor, _ = _derived(path)
    assert cursor == 14 and sorted(causes) == sorted(inputs[:14])  # the torn step: neither
    assert worker("consume", path, 7, "atomic")[0] == 0
    causes, cursor, head = _derived(path)
    assert causes == Counter(inputs) and cursor == 40 and head == 80  # each applied once


def test_a_kill_between_append_and_a_separate_cursor_commit_is_covered_by_idempotent_keys(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.db"
    inputs = _inputs(path, 40)
    code, acks = worker(
        "consume", path, 7, "separate", crash_at="journal.after_append_before_cursor@3"
    )
    assert code == -signal.SIGKILL and acks == [0, 1]
    causes, cursor, _ = _derived(path)
    assert cursor == 14 and sorted(causes) == sorted(inputs[:21])  # outputs ahead of the cursor
    assert worker("consume", path, 7, "separate")[0] == 0  # re-reads inputs 15..21
    causes, cursor, head = _derived(path)
    assert causes == Counter(inputs) and cursor == 40 and head == 80  # each applied once


def test_a_kill_during_a_snapshot_keeps_the_previous_one_and_the_state_equals_a_replay(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.db"
    code, acks = worker("project", path, 10, 25, crash_at="journal.mid_snapshot@3")
    assert code == -signal.SIGKILL and acks == [0, 1, 2, 3, 4, 5, 6]  # killed in batch 7
    with SQLiteJournal(path) as j:
        assert j.head() == 80 and j.load_snapshot("heads.v1") is not None
        assert j.load_snapshot("heads.v1")[0] == 50  # type: ignore[index]  # the 2nd, not the 3rd
        check = check_projection(j, StreamHeads())
        assert check.equal and check.snapshot_position == 50 and check.tail == 30
    assert worker("project", path, 3, 25)[0] == 0
    with SQLiteJournal(path) as j:
        runner = load_projection(j, StreamHeads())
        assert runner.state == replay(j, StreamHeads())
        assert runner.state.source_seq("feed", "ETH") == 110 and runner.position == 110
        assert j.verify().intact
