"""The audit log's append path: each append is committed when it returns (a SIGKILL loses none),
its WAL is checkpointed by a thread of its own, its fast framing is the chain's, and the
rare kinds' rows are found by the partial index."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from zkrisk.engine.audit import _SCHEMA, AuditLog, _by_kind, _framed
from zkrisk.engine.audit_proofs import check_checkpoints
from zkrisk.engine.cli.audit import read_checkpoints, read_rows, tree_of
from zkrisk.engine.journal.chain import GENESIS, SHORT, framed
from zkrisk.engine.wal_db import FALLBACK_PAGES

REPO = Path(__file__).resolve().parents[2]

# Appends without end, printing each seq once append() has returned; checkpoints every 7 rows.
_WRITER = textwrap.dedent("""
    import sys
    from zkrisk.engine.audit import AuditLog
    log = AuditLog(sys.argv[1], checkpoint_every=7, checkpoint_seconds=None)
    i = 0
    while True:
        i += 1
        r = log.append("check", f"o-{i}", "APPROVE", f'{{"order":{i}}}', f'{{"id":{i}}}')
        print(r.seq, r.hash, flush=True)
""")


def test_a_sigkilled_writer_loses_no_returned_append_and_its_chain_and_checkpoints_verify(
    tmp_path: Path,
) -> None:
    path = tmp_path / "audit.sqlite"
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert writer.stdout is not None
    returned: dict[int, str] = {}
    for line in writer.stdout:  # kill mid-append, likely mid-checkpoint of the WAL
        seq, digest = line.split()
        returned[int(seq)] = digest
        if len(returned) >= 3_000:
            break
    os.kill(writer.pid, signal.SIGKILL)
    writer.communicate()
    assert writer.returncode == -signal.SIGKILL

    rows = read_rows(path)
    stored = {row[0]: row[-1] for row in rows}  # seq: hash
    assert {seq: stored.get(seq) for seq in returned} == returned  # every returned append
    report = check_checkpoints(tree_of(rows), read_checkpoints(path))
    assert report.ok and report.checked >= 3_000 // 7
    log = AuditLog(path, checkpoint_every=7, checkpoint_seconds=None)
    assert log.verify() is None
    log.append("check", "after", "APPROVE", "{}", "{}")  # the reopened log carries on
    log.close()
    assert check_checkpoints(tree_of(read_rows(path)), read_checkpoints(path)).ok


def test_the_log_checkpoints_its_wal_from_its_own_thread_not_inside_appends(
    tmp_path: Path,
) -> None:
    path = tmp_path / "audit.sqlite"
    log = AuditLog(path, checkpoint_seconds=None)
    empty = path.stat().st_size
    for i in range(2_000):
        log.append("check", f"o-{i}", "APPROVE", "{}" * 100, "{}")
    # The writer alone would not checkpoint before FALLBACK_PAGES: rows reach the file itself
    # only by the checkpointer's thread.
    assert log._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == FALLBACK_PAGES
    deadline = time.monotonic() + 5
    while path.stat().st_size <= empty + 2_000 * 200 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert path.stat().st_size > empty + 2_000 * 200
    log.close()
    assert log._wal.checkpoints > 0
    assert not log._wal._thread.is_alive()  # close() stopped it


def test_the_fast_framing_is_the_chain_framing_for_every_kind_of_field() -> None:
    prev = "ab" * 32
    cases = [
        (prev, 1, 17, "check", "o-1", "APPROVE", '{"a":1}', '{"b":2}'),
        (GENESIS, 10**12, 1_700_000_000_000_000_000, "killswitch", "ops", "ENGAGED", "", ""),
        (prev, 2, 3, "check", "ordre-é", "APPROVE", '{"€":1}', "{}"),  # non-ASCII: bytes framing
        (prev, 3, 4, "check", "o", "APPROVE", "x" * SHORT, "{}"),  # past the cached frames
        ("short-prev", 4, 5, "check", "o", "APPROVE", "{}", "{}"),
    ]
    for prev_, seq, at_ns, kind, subject, outcome, request, response in cases:
        fields = (seq, at_ns, kind, subject, outcome, request, response)
        assert _framed(prev_, *fields) == framed(prev_, fields)


def test_last_and_records_of_a_kind_return_its_rows_and_rare_kinds_use_the_partial_index(
    tmp_path: Path,
) -> None:
    log = AuditLog(tmp_path / "audit.sqlite", checkpoint_seconds=None)
    for i in range(1, 301):
        kind = "killswitch" if i % 100 == 50 else "check"
        log.append(kind, f"s-{i}", "ENGAGED" if kind == "killswitch" else "APPROVE", "{}", "{}")
    newest = log.last("killswitch")
    assert newest is not None and newest.seq == 250
    assert [r.seq for r in log.records("killswitch")] == [50, 150, 250]
    newest_check = log.last("check")
    assert len(log.records("check")) == 297 and newest_check is not None
    assert newest_check.seq == 300
    assert log.last("nothing") is None
    for kind in ("killswitch", "nothing"):
        sql = f"EXPLAIN QUERY PLAN SELECT * FROM audit WHERE {_by_kind(kind)} ORDER BY seq DESC"
        plan = " ".join(str(row[-1]) for row in log._db.execute(sql, (kind,)))
        assert "USING INDEX audit_rare" in plan, plan
    log.close()


def test_a_log_made_before_the_partial_index_drops_the_every_kind_index_on_open(
    tmp_path: Path,
) -> None:
    path = tmp_path / "audit.sqlite"
    db = sqlite3.connect(path)
    db.executescript(_SCHEMA + "CREATE INDEX audit_kind ON audit (kind, seq);")
    db.close()
    log = AuditLog(path, checkpoint_seconds=None)
    names = {r[0] for r in log._db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    log.close()
    assert "audit_kind" not in names and "audit_rare" in names
