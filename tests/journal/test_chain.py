"""The one hash chain of the audit log and the journal: its framing, its verifier, tampering."""

from __future__ import annotations

import hashlib
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkrisk.engine.audit import AuditLog, row_hash
from zkrisk.engine.journal.base import JournalError
from zkrisk.engine.journal.chain import (
    GENESIS,
    SHORT,
    ChainRow,
    first_bad,
    framed,
    link,
    verify,
)
from zkrisk.engine.journal.events import Draft, Heartbeat, Quarantined
from zkrisk.engine.journal.sqlite import SQLiteJournal, chain_rows
from zkrisk.engine.journal.sqlite_rows import ROW_COLUMNS, ROW_EVENTS

from .journal_fixtures import T0, heartbeat, quote


def reference_link(prev: str, fields: list[str | int | None]) -> str:
    """The chain link as the audit log always computed it: one update per framed part."""
    h = hashlib.sha256()
    for part in (prev, *fields):
        if part is None:
            h.update(b"\xff" * 8)
            continue
        data = str(part).encode()
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


fields = st.lists(st.one_of(st.none(), st.integers(-(2**70), 2**70), st.text(max_size=40),
                            st.text(alphabet="ab", min_size=4090, max_size=4100)), max_size=8)  # fmt: skip


prevs = st.one_of(st.text("0123456789abcdef", min_size=64, max_size=64), st.text(max_size=70))


@given(prevs, fields)
def test_the_fast_framing_hashes_exactly_like_the_reference(
    prev: str, parts: list[str | int | None]
) -> None:
    assert link(prev, parts) == reference_link(prev, parts)


texts = st.one_of(st.text(min_size=1, max_size=40),
                  st.text(alphabet="ab", min_size=4090, max_size=4100))  # fmt: skip


def _stored_rows(journal: SQLiteJournal) -> list[ChainRow]:
    return list(chain_rows(journal._db.execute(f"SELECT {ROW_COLUMNS} FROM events ORDER BY first")))


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(texts, st.one_of(st.none(), texts), st.integers(0, 2**63 - 1)),
                min_size=1, max_size=6), st.integers(1, 3))  # fmt: skip
def test_every_stored_row_links_to_the_one_before_like_the_shared_link(
    parts: list[tuple[str, str | None, int]], appends: int
) -> None:
    """Rows of any text (non-ASCII, past chain.SHORT), one stream or several, with and without
    causations: each row's stored link is chain.link over the row before and its columns, and
    every record of the row reports that link."""
    with tempfile.TemporaryDirectory() as folder, SQLiteJournal(Path(folder) / "j.db") as j:
        out = []
        for a in range(appends):
            out += j.append([Draft(f"s.{i % 2}", f"k{a}:{i}:{text[:50]}", Heartbeat(component=text),
                                   ns, ns, cause) for i, (text, cause, ns) in enumerate(parts)])  # fmt: skip
        rows, prev = _stored_rows(j), GENESIS
        for row in rows:
            assert row.hash == link(prev, row.fields)
            assert {r.hash for r in out[row.id - 1 : row.id - 1 + row.span]} == {row.hash}
            prev = row.hash
        assert sum(r.span for r in rows) == len(out) and j.verify().intact
        assert j.read(limit=len(out)) == out


def test_audit_rows_written_before_the_shared_chain_still_verify() -> None:
    # A link the audit log wrote with its own sha256 code before the chain was shared.
    old = reference_link(GENESIS, [1, 1_700_000_000, "check", "o-1", "APPROVE", "{}", "{}"])
    assert row_hash(GENESIS, 1, 1_700_000_000, "check", "o-1", "APPROVE", "{}", "{}") == old


def test_framing_keeps_field_boundaries_and_none_apart_from_empty() -> None:
    assert framed(GENESIS, ["ab", "c"]) != framed(GENESIS, ["a", "bc"])
    assert link(GENESIS, [None]) != link(GENESIS, [""])


def test_verify_names_the_first_row_whose_prev_or_hash_is_wrong() -> None:
    rows, prev = [], GENESIS
    for n in range(1, 5):
        digest = link(prev, [n, f"row {n}"])
        rows.append(ChainRow(n, (n, f"row {n}"), prev, digest))
        prev = digest
    assert verify(rows).intact and verify(rows).entries == 4 and verify(rows).head == prev
    edited = [*rows[:2], ChainRow(3, (3, "edited"), rows[2].prev, rows[2].hash), rows[3]]
    assert first_bad(edited) == 3 and "do not hash" in verify(edited).problem
    assert first_bad([rows[0], rows[2], rows[3]]) == 3  # row 2 deleted
    assert "is not the hash of the entry before" in verify([rows[0], rows[2]]).problem


def _tamper(path: Path, sql: str) -> None:
    """An edit behind the append-only triggers' back (another tool, a hex editor)."""
    db = sqlite3.connect(path)
    drop = "".join(f"DROP TRIGGER IF EXISTS {t}_no_{w};" for t in ("events", "keys")
                   for w in ("update", "delete"))  # fmt: skip
    db.executescript(drop + sql)
    db.close()


def _two_rows(path: Path) -> None:
    """Row 1: positions 1-3 (two streams, a causation); row 2: positions 4-5."""
    with SQLiteJournal(path) as j:
        j.append([quote(1), heartbeat("ingest", T0, cause="md:feed:ETH:1"), quote(2)])
        j.append([quote(3), quote(4)])


def test_the_journal_chain_covers_every_column_of_a_row(tmp_path: Path) -> None:
    edits = {"streams": "'\"md.other\"'", "sequences": "zeroblob(16)",
             "keys": "'[\"md:feed:ETH:3\", \"x\"]'", "event_ns": "zeroblob(16)",
             "recv_ns": "zeroblob(16)", "causes": "'[\"forged\", null]'",
             "bodies": "replace(bodies, '3003.1', '3003.2')", "last": "6"}  # fmt: skip
    for column, value in edits.items():
        path = tmp_path / f"{column}.db"
        _two_rows(path)
        _tamper(path, f"UPDATE events SET {column} = {value} WHERE first = 4;")
        with SQLiteJournal(path) as j:
            report = j.verify()
        assert report.bad == 4 and report.entries == 3, column
        assert (
            report.problem.startswith("the row of positions 4–") and "do not hash" in report.problem
        )
    path = tmp_path / "first-row.db"
    _two_rows(path)
    _tamper(path, "UPDATE events SET bodies = replace(bodies, '3001.1', '3001.2') WHERE first = 1;")
    with SQLiteJournal(path) as j:
        assert j.verify().bad == 1 and j.verify().entries == 0


def test_a_key_deleted_from_its_index_is_named_and_a_repeat_of_it_does_not_hide(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.db"
    _two_rows(path)
    _tamper(path, "DELETE FROM keys WHERE key = 'md:feed:ETH:4';")
    with SQLiteJournal(path) as j:
        report = j.verify()
        assert report.bad == 4 and report.entries == 3
        assert "the keys table holds 1 of its 2 keys" in report.problem
        j.append([quote(4)])  # the index no longer refuses it: stored twice...
        assert not j.verify().intact  # ...and verify still says the journal is not sound


def test_a_row_that_hashes_but_does_not_decode_is_named(tmp_path: Path) -> None:
    # A writer that is not zkrisk (or a forger who recomputed the link) stored 2 keys for 3
    # events: the chain holds, the row does not.
    path = tmp_path / "j.db"
    with SQLiteJournal(path) as j:
        j.append([quote(1), quote(2), quote(3)])
    db = sqlite3.connect(path)
    row = db.execute(f"SELECT {ROW_COLUMNS} FROM events").fetchone()
    forged = (*row[:4], '["md:feed:ETH:1", "md:feed:ETH:2"]', *row[5:9])
    digest = hashlib.sha256(framed(GENESIS, next(chain_rows(iter([(*forged, b"")]))).fields))
    _tamper(path, "DELETE FROM events;")
    db.execute(f"INSERT INTO events VALUES ({', '.join('?' * 10)})", (*forged, digest.digest()))
    db.commit()
    db.close()
    with SQLiteJournal(path) as j:
        report = j.verify()
        assert report.bad == 1 and "its keys column does not hold 3 entries" in report.problem
        with pytest.raises(JournalError, match="the row of positions 1–3 is damaged"):
            j.read()


def test_events_with_non_ascii_or_long_text_verify_and_keep_their_hash(tmp_path: Path) -> None:
    raw = "prix: 3000,10 € — ✓" * 300  # beyond the cached length prefixes, and not ASCII
    odd = Quarantined(source="feed", reason="MALFORMED", detail="é", raw=raw)
    drafts = [quote(1), Draft("ingest", "q:feed:ü", odd, T0, T0, "md:feed:ETH:1"),
              Draft("ingest", "q:feed:2", odd, T0, T0, "c" * 5000), quote(2)]  # fmt: skip
    with SQLiteJournal(tmp_path / "j.db") as j:
        out = j.append(drafts)
        assert j.verify().intact and j.verify().head == out[-1].hash
        assert j.read() == out and j.get("q:feed:ü") == out[1]


def test_a_deleted_row_breaks_the_chain_at_the_next_one(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    with SQLiteJournal(path) as j:
        for n in range(1, 6):
            j.append([quote(n)])
        j.append([quote(6), quote(7)])
    _tamper(path, "DELETE FROM events WHERE first = 3;")
    with SQLiteJournal(path) as j:
        report = j.verify()
    assert report.bad == 4 and report.entries == 2
    assert report.problem.startswith("position 4 follows 2: the entries between were deleted")
    _tamper(path, "DELETE FROM events WHERE first = 6;")
    with SQLiteJournal(path) as j:
        assert j.verify().bad == 4  # still the first break


def test_a_batch_longer_than_a_row_spans_rows_and_reads_back_whole(tmp_path: Path) -> None:
    drafts = [quote(n) for n in range(1, 2 * ROW_EVENTS + 11)]
    with SQLiteJournal(tmp_path / "j.db") as j:
        out = j.append(drafts)
        rows = _stored_rows(j)
        assert [(r.id, r.span) for r in rows] == [(1, ROW_EVENTS), (ROW_EVENTS + 1, ROW_EVENTS),
                                                  (2 * ROW_EVENTS + 1, 10)]  # fmt: skip
        assert j.verify().intact and j.verify().entries == len(drafts)
    with SQLiteJournal(tmp_path / "j.db") as j:  # decoded from the file, not the cache
        assert j.read(limit=len(drafts)) == out
        assert j.read(ROW_EVENTS - 2, limit=3) == out[ROW_EVENTS - 2 : ROW_EVENTS + 1]
        assert j.get(drafts[ROW_EVENTS + 5].key) == out[ROW_EVENTS + 5]


def test_the_audit_log_verifies_through_the_shared_chain(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.sqlite")
    for n in range(3):
        log.append("check", f"o-{n}", "APPROVE", "{}", "{}")
    assert log.verify() is None
    db = sqlite3.connect(tmp_path / "audit.sqlite")
    db.executescript("DROP TRIGGER audit_no_update; UPDATE audit SET subject = 'x' WHERE seq = 2;")
    db.close()
    assert log.verify() == 2
    log.close()


def test_appends_of_unusual_text_take_the_exact_framing_and_verify(tmp_path: Path) -> None:
    drafts = [
        heartbeat("ingest", 1),
        Draft("monitor", "ключ", Heartbeat(component="ingest"), 2, 3),
        Draft("monitor", "k" * 1024, Heartbeat(component="c"), 4, 5, "é, ключ"),
        Draft("monitor", "k1", Heartbeat(component="é"), 4, 5),
        Draft("md.new", "k2", Heartbeat(component="c"), 6, 7, "c" * (SHORT + 10)),
        Draft("md.new", "k3", Heartbeat(component="c"), 8, 9, "plain"),
        heartbeat("ingest", 10),
    ]
    path = tmp_path / "journal.db"
    with SQLiteJournal(path) as journal:
        out = journal.append(drafts) + journal.append([heartbeat("ingest", 11)])
        prev = GENESIS
        for row in _stored_rows(journal):
            assert row.hash == link(prev, row.fields) == out[row.id - 1].hash
            prev = row.hash
        assert journal.verify().intact
    with SQLiteJournal(path) as journal:
        assert journal.read() == out and journal.get("ключ") == out[1]
