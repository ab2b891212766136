"""The audit log's group commit: rows that arrive together share a transaction (`append_many`,
appends from several threads), every returned row is committed, and a failed commit fails
exactly the rows queued with it and after it, the chain resuming from the last committed row."""

from __future__ import annotations

import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from zkrisk.engine.audit import AuditLog, AuditWriteError
from zkrisk.engine.audit_merkle import verify_consistency
from zkrisk.engine.audit_proofs import Checkpoint, check_checkpoints
from zkrisk.engine.cli.audit import read_checkpoints, read_rows, tree_of

REPO = Path(__file__).resolve().parents[2]


def entries(n: int, tag: str = "o") -> list[tuple[str, str, str, str, str]]:
    return [("check", f"{tag}-{i}", "APPROVE", f'{{"order":{i}}}', "{}") for i in range(n)]


def verified(path: Path) -> int:
    """Rows in the file, once its chain and every checkpoint verify."""
    rows = read_rows(path)
    assert check_checkpoints(tree_of(rows), read_checkpoints(path)).ok
    log = AuditLog(path, checkpoint_seconds=None)
    assert log.verify() is None
    log.close()
    return len(rows)


def test_append_many_commits_its_rows_in_one_transaction_with_the_checkpoints_due_in_it(
    tmp_path: Path,
) -> None:
    seen: list[Checkpoint] = []
    log = AuditLog(tmp_path / "audit.sqlite", checkpoint_every=10, checkpoint_seconds=None,
                   on_checkpoint=seen.append)  # fmt: skip
    records = log.append_many(entries(25), at_ns=1_700_000_000_000)
    assert [r.seq for r in records] == list(range(1, 26))
    assert log.commits == 1
    assert [c.size for c in seen] == [10, 20]  # at their exact sizes, handed over once committed
    assert [c.last_seq for c in seen] == [10, 20]
    assert [r.hash for r in log.records()] == [r.hash for r in records]
    log.close()
    assert [c.size for c in read_checkpoints(tmp_path / "audit.sqlite")] == [10, 20, 25]
    assert verified(tmp_path / "audit.sqlite") == 25


def test_appends_from_many_threads_share_commits_and_the_chain_and_checkpoints_verify(
    tmp_path: Path,
) -> None:
    path = tmp_path / "audit.sqlite"
    log = AuditLog(path, checkpoint_every=100, checkpoint_seconds=None)
    returned: list[int] = []
    start = threading.Barrier(8)

    def writer(t: int) -> None:
        start.wait()
        for kind, subject, outcome, request, response in entries(250, f"t{t}"):
            record = log.append(kind, subject, outcome, request, response)
            returned.append(record.seq)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    commits = log.commits
    log.close()
    assert sorted(returned) == list(range(1, 2_001))
    assert commits < 2_000  # some appends found their row committed by another's transaction
    assert verified(path) == 2_000
    checkpoints = read_checkpoints(path)
    assert [c.size for c in checkpoints] == list(range(100, 2_001, 100))
    tree = tree_of(read_rows(path)).tree
    for a, b in itertools.pairwise(checkpoints):
        assert verify_consistency(a.size, b.size, a.root, b.root,
                                  tree.consistency_proof(a.size, b.size))  # fmt: skip


def test_a_failed_commit_leaves_no_row_and_the_chain_resumes_from_the_last_committed_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "audit.sqlite"
    log = AuditLog(path, checkpoint_every=3, checkpoint_seconds=None)
    log.append_many(entries(2))
    with pytest.raises(sqlite3.IntegrityError):
        log.append("check", "again", "APPROVE", "{}", "{}", seq=2)  # a seq already written
    after = log.append("check", "after", "APPROVE", "{}", "{}")
    assert after.prev == log.records()[1].hash  # linked to the last committed row
    log.close()
    assert [r[0] for r in read_rows(path)] == [1, 2, 3]
    assert verified(path) == 3


def test_a_failed_group_commit_fails_every_row_queued_with_it(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    log = AuditLog(path, checkpoint_seconds=None)
    log.append("check", "first", "APPROVE", "{}", "{}")
    errors: dict[str, BaseException] = {}

    def append(name: str, seq: int | None) -> None:
        try:
            log.append("check", name, "APPROVE", "{}", "{}", seq=seq)
        except BaseException as exc:
            errors[name] = exc

    log._db_lock.acquire()  # a commit in flight: the two rows below queue into one batch
    bad = threading.Thread(target=append, args=("duplicate", 1))
    bad.start()
    while not log._open.rows:
        pass
    good = threading.Thread(target=append, args=("innocent", None))
    good.start()
    while len(log._open.rows) < 2:
        pass
    log._db_lock.release()
    bad.join()
    good.join()
    assert set(errors) == {"duplicate", "innocent"}
    assert any(isinstance(e, sqlite3.IntegrityError) for e in errors.values())
    assert any(isinstance(e, AuditWriteError) for e in errors.values())
    log.append("check", "later", "APPROVE", "{}", "{}")
    log.close()
    assert [r[3] for r in read_rows(path)] == ["first", "later"]
    assert verified(path) == 2


def test_rows_queued_while_a_commit_fails_fail_with_it(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    log = AuditLog(path, checkpoint_seconds=None)
    log.append("check", "first", "APPROVE", "{}", "{}")
    errors: dict[str, BaseException] = {}

    def late_append() -> None:
        try:
            log.append("check", "late", "APPROVE", "{}", "{}")
        except BaseException as exc:
            errors["late"] = exc

    late = threading.Thread(target=late_append)
    fired = []

    def abort_once() -> int:
        """Inside the commit of 'failing': let 'late' queue behind it, then abort it."""
        if fired:
            return 0
        fired.append(True)
        late.start()
        while not log._open.rows:
            time.sleep(0.001)
        return 1

    log._db.set_progress_handler(abort_once, 1)
    with pytest.raises(sqlite3.OperationalError, match="interrupted"):
        log.append("check", "failing", "APPROVE", "{}", "{}")
    log._db.set_progress_handler(None, 1)
    late.join()
    assert isinstance(errors.get("late"), AuditWriteError)  # linked to the failed row: refused
    log.append("check", "after", "APPROVE", "{}", "{}")
    log.close()
    assert [r[3] for r in read_rows(path)] == ["first", "after"]
    assert verified(path) == 2


# Appends batches without end, printing each batch's last seq once append_many has returned.
_WRITER = textwrap.dedent("""
    import sys
    from zkrisk.engine.audit import AuditLog
    log = AuditLog(sys.argv[1], checkpoint_every=50, checkpoint_seconds=None)
    i = 0
    while True:
        i += 1
        rows = log.append_many([("check", f"o-{i}-{j}", "APPROVE", "{}", "{}") for j in range(i % 37 + 1)])
        print(rows[-1].seq, rows[-1].hash, flush=True)
""")


def test_a_sigkilled_batch_writer_loses_no_returned_batch(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert writer.stdout is not None
    returned: dict[int, str] = {}
    for line in writer.stdout:
        seq, digest = line.split()
        returned[int(seq)] = digest
        if len(returned) >= 500:
            break
    os.kill(writer.pid, signal.SIGKILL)
    writer.communicate()
    stored = {row[0]: row[-1] for row in read_rows(path)}
    assert {seq: stored.get(seq) for seq in returned} == returned
    assert verified(path) >= max(returned)
