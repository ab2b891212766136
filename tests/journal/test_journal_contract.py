"""The `Journal` contract against both real backends, SQLite and NATS JetStream (a real
nats-server per module, a fresh journal prefix per test): idempotent, atomic, ordered appends,
stream filters, forward-only durable cursors, snapshots. The tests that name SQLiteJournal are
about the file itself (triggers, read-only opening, schema checks, synchronous mode); what
JetStream gives instead is in tests/journal/test_jetstream_journal.py."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from zkrisk.engine.journal.base import Journal, JournalError
from zkrisk.engine.journal.events import Draft
from zkrisk.engine.journal.jetstream import JetStreamJournal
from zkrisk.engine.journal.sqlite import SQLiteJournal

from .journal_fixtures import T0, Backend, backend, heartbeat, nats_module, quote

__all__ = ["backend", "nats_module"]  # fixtures
AnyJournal = SQLiteJournal | JetStreamJournal


@pytest.fixture
def journal(backend: Backend) -> Iterator[AnyJournal]:
    j = backend.open()
    yield j
    j.close()


def test_both_journals_implement_the_protocol(journal: AnyJournal) -> None:
    typed: Journal = journal  # mypy checks the structural match
    assert typed.head() == 0


def test_appends_get_gapless_positions_and_per_stream_sequences(journal: AnyJournal) -> None:
    out = journal.append([quote(1), heartbeat("ingest", T0), quote(2)])
    assert [(r.position, r.stream, r.sequence) for r in out] == [
        (1, "md.feed", 1), (2, "monitor", 1), (3, "md.feed", 2)]  # fmt: skip
    more = journal.append([quote(3), quote(1, source="backup")])
    assert [(r.position, r.sequence) for r in more] == [(4, 3), (5, 1)]
    assert journal.head() == 5 and journal.last_sequence("md.feed") == 3
    assert journal.last_sequence("md.backup") == 1 and journal.last_sequence("nope") == 0
    assert journal.read() == [*out, *more]


def test_records_are_immutable(journal: AnyJournal) -> None:
    (record,) = journal.append([quote(1)])
    with pytest.raises(AttributeError):
        record.position = 2  # type: ignore[misc]


def test_a_repeated_key_returns_the_original_and_stores_nothing(journal: AnyJournal) -> None:
    first = journal.append([quote(1), quote(2)])
    again = journal.append([quote(2), quote(3), quote(1)])
    assert again[0] == first[1] and again[2] == first[0]
    assert again[1].position == 3  # the only new row, right after the old head: no gap
    assert journal.head() == 3 and journal.last_sequence("md.feed") == 3


def test_a_key_repeated_inside_one_batch_is_stored_once(journal: AnyJournal) -> None:
    out = journal.append([quote(1), quote(2), quote(1), quote(2), quote(3)])
    assert [r.position for r in out] == [1, 2, 1, 2, 3]
    assert out[2] is out[0] and journal.head() == 3
    later = journal.append([quote(4), quote(5), quote(4)])  # numbered by first occurrence
    assert [(r.key, r.position) for r in later] == [
        ("md:feed:ETH:4", 4), ("md:feed:ETH:5", 5), ("md:feed:ETH:4", 4)
    ]  # fmt: skip


def test_append_many_is_appending_each_batch_after_the_one_before(journal: AnyJournal) -> None:
    journal.append([quote(1)])
    out = journal.append_many([[quote(2), quote(1)], [heartbeat("signal", T0), quote(2)], []])
    assert [[r.position for r in batch] for batch in out] == [[2, 1], [3, 2], []]
    assert out[0][1].sequence == 1 and out[1][1] == out[0][0]  # repeats: the originals
    assert journal.read() == [journal.get("md:feed:ETH:1"), out[0][0], out[1][0]]


def test_a_repeat_carrying_a_different_event_still_returns_the_original(
    journal: AnyJournal,
) -> None:
    journal.append([quote(1)])
    impostor = Draft("md.feed", "md:feed:ETH:1", quote(99).event, T0, T0)
    (got,) = journal.append([impostor])
    assert got.event == quote(1).event and journal.head() == 1


def test_the_originals_survive_reopening(backend: Backend) -> None:
    with backend.open() as j:
        first = j.append([quote(1), heartbeat("signal", T0)])
    with backend.open() as j:
        assert j.append([heartbeat("signal", T0), quote(1)]) == [first[1], first[0]]
        assert j.get("md:feed:ETH:1") == first[0] and j.get("md:feed:ETH:2") is None


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (Draft("md.feed", "", quote(9).event, T0, T0), "non-empty string"),
        (Draft("md feed", "k", quote(9).event, T0, T0), "is not a name like"),
        (Draft("md.feed", "k", quote(9).event, -1, T0), "event_time_ns must be unix"),
        (Draft("md.feed", "k", quote(9).event, T0, T0, ""), "causation_id must be"),
        ("not a draft", "expected a Draft"),
    ],
)
def test_a_batch_with_an_invalid_draft_leaves_nothing(
    journal: AnyJournal, bad: object, message: str
) -> None:
    journal.append([quote(1)])
    with pytest.raises(JournalError, match=message):
        journal.append([quote(2), quote(3), bad])  # type: ignore[list-item]
    assert journal.head() == 1 and journal.last_sequence("md.feed") == 1
    assert journal.append([quote(2)])[0].position == 2  # and the journal still works


def test_a_failed_cursor_move_rolls_back_the_outputs_of_its_batch(journal: AnyJournal) -> None:
    journal.append([quote(1), quote(2), quote(3)], cursor=("signal", 2))
    with pytest.raises(JournalError, match="cannot move backwards: it is at 2, asked for 1"):
        journal.append([heartbeat("signal", T0)], cursor=("signal", 1))
    assert journal.head() == 3 and journal.get(f"hb:signal:{T0}") is None
    assert journal.cursor("signal") == 2


def test_cursors_are_durable_and_move_forward_only(backend: Backend) -> None:
    with backend.open() as j:
        j.append([quote(n) for n in range(1, 6)])
        assert j.cursor("signal") == 0
        j.commit_cursor("signal", 3)
        j.commit_cursor("signal", 3)  # staying put is fine
        with pytest.raises(JournalError, match="cannot move backwards"):
            j.commit_cursor("signal", 2)
        with pytest.raises(JournalError, match="past the head 5"):
            j.commit_cursor("signal", 6)
    with backend.open() as j:
        assert j.cursor("signal") == 3 and j.cursor("monitor") == 0


def test_append_with_a_cursor_commits_both(journal: AnyJournal) -> None:
    journal.append([quote(1), quote(2)])
    out = journal.append([heartbeat("signal", T0, cause="md:feed:ETH:2")], cursor=("signal", 2))
    assert journal.cursor("signal") == 2 and out[0].causation_id == "md:feed:ETH:2"


def test_reads_are_ordered_paged_and_filtered_by_stream(journal: AnyJournal) -> None:
    drafts = [d for n in range(1, 1501) for d in (quote(n), heartbeat("ingest", T0 + n))]
    for i in range(0, len(drafts), 700):
        journal.append(drafts[i : i + 700])
    assert [r.position for r in journal.read(10, limit=3)] == [11, 12, 13]
    beats = journal.read(0, streams=["monitor"], limit=5)
    assert [r.position for r in beats] == [2, 4, 6, 8, 10]
    every = list(journal.iter_from(0, streams={"md.feed"}))
    assert [r.sequence for r in every] == list(range(1, 1501))
    assert len(list(journal.iter_from(2990))) == 10 and journal.read(0, streams=[]) == []
    assert journal.streams() == {"md.feed": 1500, "monitor": 1500}


def test_snapshots_replace_the_older_one_and_refuse_positions_past_the_head(
    journal: AnyJournal,
) -> None:
    assert journal.load_snapshot("heads.v1") is None
    journal.append([quote(1), quote(2)])
    journal.save_snapshot("heads.v1", 1, b"one")
    journal.save_snapshot("heads.v1", 2, b"two")
    assert journal.load_snapshot("heads.v1") == (2, b"two")
    with pytest.raises(JournalError, match="not between 0 and the head 2"):
        journal.save_snapshot("heads.v1", 3, b"three")
    assert journal.load_snapshot("heads.v1") == (2, b"two")


def test_updates_and_deletes_of_events_are_refused(tmp_path: Path) -> None:
    with SQLiteJournal(tmp_path / "j.db") as j:
        j.append([quote(1)])
    db = sqlite3.connect(tmp_path / "j.db")
    for sql in (
        "UPDATE events SET bodies = '[]'",
        "DELETE FROM events",
        "UPDATE keys SET position = 2",
        "DELETE FROM keys",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(sql)
    db.close()


def test_a_read_only_journal_reads_a_live_one_and_refuses_writes(tmp_path: Path) -> None:
    with SQLiteJournal(tmp_path / "j.db") as writer:
        writer.append([quote(1)])
        reader = SQLiteJournal(tmp_path / "j.db", readonly=True)
        writer.append([quote(2)])  # committed while the reader is open: it sees it
        assert reader.head() == 2
        with pytest.raises(JournalError, match="read-only"):
            reader.append([quote(3)])
        reader.close()


def test_opening_what_is_not_a_journal_says_so(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="file not found"):
        SQLiteJournal(tmp_path / "missing.db", readonly=True)
    (tmp_path / "notes.txt").write_text("hello, this is not a database at all\n" * 40)
    with pytest.raises(JournalError, match="not a zkrisk journal"):
        SQLiteJournal(tmp_path / "notes.txt")
    sqlite3.connect(tmp_path / "other.db").executescript("CREATE TABLE t (x);")
    with pytest.raises(JournalError, match=r"not a zkrisk journal \(tables t, no meta table"):
        SQLiteJournal(tmp_path / "other.db")
    sqlite3.connect(tmp_path / "kin.db").executescript(
        "CREATE TABLE meta (name, value); INSERT INTO meta VALUES ('format', 'other-tool');"
    )
    with pytest.raises(JournalError, match=r"not a zkrisk journal \(format 'other-tool'"):
        SQLiteJournal(tmp_path / "kin.db")
    with SQLiteJournal(tmp_path / "old.db"):
        pass
    db = sqlite3.connect(tmp_path / "old.db")
    db.execute("UPDATE meta SET value = '2' WHERE name = 'schema_version'")  # an event per row
    db.commit()
    db.close()
    with pytest.raises(JournalError, match="schema version 2, this zkrisk reads version 3"):
        SQLiteJournal(tmp_path / "old.db")


def test_a_closed_journal_says_so(backend: Backend) -> None:
    j = backend.open()
    j.close()
    with pytest.raises(JournalError, match="closed"):
        j.head()


def test_threads_sharing_one_journal_keep_positions_gapless(journal: AnyJournal) -> None:
    def write(worker: int) -> None:
        for n in range(50):
            journal.append([quote(n, source=f"w{worker}"), quote(n + 1000, source=f"w{worker}")])

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.position for r in journal.iter_from(0)] == list(range(1, 401))
    assert journal.verify().intact


def test_two_writer_processes_interleave_without_gaps(backend: Backend) -> None:
    """A second connection (as another process would have) appends between our batches."""
    a = backend.open()
    b = backend.open()
    a.append([quote(1)])
    b.append([quote(2), quote(1, source="other")])
    out = a.append([quote(3)])
    assert (out[0].position, out[0].sequence) == (4, 3)
    assert a.verify().intact and a.verify().entries == 4
    a.close()
    b.close()


def test_durability_power_uses_synchronous_full(tmp_path: Path) -> None:
    with SQLiteJournal(tmp_path / "j.db", durability="power") as j:
        assert j._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert j._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with SQLiteJournal(tmp_path / "j.db") as j:
        assert j._db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    with pytest.raises(JournalError, match="use 'process' or 'power'"):
        SQLiteJournal(tmp_path / "j.db", durability="fast")  # type: ignore[arg-type]
