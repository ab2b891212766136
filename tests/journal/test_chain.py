"""The one hash chain of the audit log and the journal: its framing, its verifier, tampering."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from zkrisk.engine.audit import AuditLog, row_hash
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
from zkrisk.engine.journal.sqlite import (
    CHAIN_COLUMNS,
    SQLiteJournal,
    _row_digest,
    chain_fields,
    chain_rows,
)

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


texts = st.one_of(st.text(max_size=40), st.text(alphabet="ab", min_size=4090, max_size=4100))
ns = st.integers(0, 2**64)


@given(prevs, ns, texts, ns, texts, texts, ns, ns, st.one_of(st.none(), texts), texts)
def test_the_append_fast_path_hashes_exactly_like_the_shared_link(
    prev: str, position: int, stream: str, sequence: int, key: str, type_: str,
    event_ns: int, recv_ns: int, cause: str | None, body: str,
) -> None:  # fmt: skip
    fields = chain_fields(position, stream, sequence, key, type_, event_ns, recv_ns, cause, body)
    fast = _row_digest(prev, position, stream, sequence, key, type_, event_ns, recv_ns, cause,
                       body)  # fmt: skip
    assert fast.hex() == link(prev, fields)


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
    db.executescript(f"DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete; {sql}")
    db.close()


def test_the_journal_chain_covers_every_field_of_an_event(tmp_path: Path) -> None:
    edits = {"stream": "'md.other'", "sequence": "7", "key": "'md:feed:ETH:x'",
             "type": "'Trade'", "event_time_ns": "1", "recv_time_ns": "1",
             "causation_id": "'forged'", "body": "replace(body, '3001.1', '3001.2')"}  # fmt: skip
    for column, value in edits.items():
        path = tmp_path / f"{column}.db"
        with SQLiteJournal(path) as j:
            j.append([quote(1), heartbeat("ingest", T0, cause="md:feed:ETH:1"), quote(2)])
        _tamper(path, f"UPDATE events SET {column} = {value} WHERE position = 2;"
                      if column != "body" else
                      f"UPDATE events SET {column} = {value} WHERE position = 1;")  # fmt: skip
        with SQLiteJournal(path) as j:
            report = j.verify()
        assert report.bad == (1 if column == "body" else 2), column


def test_events_with_non_ascii_or_long_text_verify_and_keep_their_hash(tmp_path: Path) -> None:
    raw = "prix: 3000,10 € — ✓" * 300  # beyond the cached length prefixes, and not ASCII
    odd = Quarantined(source="feed", reason="MALFORMED", detail="é", raw=raw)
    drafts = [quote(1), Draft("ingest", "q:feed:ü", odd, T0, T0, "md:feed:ETH:1"),
              Draft("ingest", "q:feed:2", odd, T0, T0, "c" * 5000), quote(2)]  # fmt: skip
    with SQLiteJournal(tmp_path / "j.db") as j:
        out = j.append(drafts)
        assert j.verify().intact and j.verify().head == out[-1].hash
        assert j.read() == out and j.get("q:feed:ü") == out[1]


def test_a_deleted_event_breaks_the_chain_at_the_next_one(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    with SQLiteJournal(path) as j:
        j.append([quote(n) for n in range(1, 6)])
    _tamper(path, "DELETE FROM events WHERE position = 3;")
    with SQLiteJournal(path) as j:
        report = j.verify()
    assert report.bad == 4 and report.entries == 2
    assert report.problem.startswith("position 4 follows 2: the entries between were deleted")


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
    # The append loop frames ASCII rows inline; these must take `_row_digest`'s other paths
    # (non-ASCII, a text past chain.SHORT) and still hash exactly like the shared link.
    drafts = [
        heartbeat("ingest", 1),
        Draft("monitor", "ключ", Heartbeat(component="ingest"), 2, 3),
        Draft("monitor", "k" * 1024, Heartbeat(component="c"), 4, 5, "é, ключ"),
        Draft("monitor", "k1", Heartbeat(component="é"), 4, 5),
        Draft("md.new", "k2", Heartbeat(component="c"), 6, 7, "c" * (SHORT + 10)),
        Draft("md.new", "k3", Heartbeat(component="c"), 8, 9, "plain"),
        heartbeat("ingest", 10),
    ]
    with SQLiteJournal(tmp_path / "journal.db") as journal:
        out = journal.append(drafts) + journal.append([heartbeat("ingest", 11)])
        rows = journal._db.execute(f"SELECT {CHAIN_COLUMNS} FROM events ORDER BY position")
        for record, row in zip(out, chain_rows(rows), strict=True):
            prev = GENESIS if record.position == 1 else out[record.position - 2].hash
            assert record.hash == row.hash == link(prev, row.fields)
        assert journal.verify().intact
