"""The audit log as an RFC 6962 Merkle log: checkpoints, proofs, and tampering named.

Tampering is done the way an insider would: raw sqlite3 on the file, dropping the append-only
triggers, and (the careful insider) re-deriving every hash-chain link after the change, so
only the checkpoints can tell.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zkrisk.engine.audit import AuditLog, row_hash
from zkrisk.engine.audit_merkle import ProofError, verify_consistency, verify_inclusion
from zkrisk.engine.audit_proofs import check_checkpoints
from zkrisk.engine.cli.audit import read_checkpoints, read_rows, tree_of
from zkrisk.engine.cli.main import app
from zkrisk.engine.journal.chain import GENESIS

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def make_log(path: Path, n: int, *, every: int, subject: str = "o") -> Path:
    log = AuditLog(path, checkpoint_every=every, checkpoint_seconds=None)
    for i in range(1, n + 1):
        log.append("check", f"{subject}-{i}", "APPROVE" if i % 3 else "REJECT",
                   f'{{"order":{i}}}', f'{{"decision_id":{i}}}', at_ns=1_700_000_000_000 + i)  # fmt: skip
    log.close()
    return path


def rewrite(path: Path, sql: str, *args: object, rechain: bool) -> None:
    """Run `sql` behind the triggers' back; with `rechain`, re-derive every link after it."""
    db = sqlite3.connect(path)
    db.execute("DROP TRIGGER audit_no_update")
    db.execute("DROP TRIGGER audit_no_delete")
    db.execute(sql, args)
    if rechain:
        prev = GENESIS
        rows = db.execute("SELECT seq, at_ns, kind, subject, outcome, request, response "
                          "FROM audit ORDER BY seq").fetchall()  # fmt: skip
        for row in rows:
            digest = row_hash(prev, *row)
            db.execute("UPDATE audit SET prev = ?, hash = ? WHERE seq = ?", (prev, digest, row[0]))
            prev = digest
    db.commit()
    db.close()


@pytest.fixture
def log40(tmp_path: Path) -> Path:
    """40 entries, checkpoints at 10, 20, 30 and 40."""
    return make_log(tmp_path / "audit.sqlite", 40, every=10)


def test_ten_thousand_entries_over_twenty_checkpoints_prove_inclusion_and_consistency(
    tmp_path: Path,
) -> None:
    path = make_log(tmp_path / "audit.sqlite", 10_000, every=500)
    checkpoints = read_checkpoints(path)
    assert [c.size for c in checkpoints] == list(range(500, 10_001, 500))
    tree = tree_of(read_rows(path))
    for c in checkpoints:
        assert tree.root(c.size) == c.root
    for a, b in itertools.pairwise(checkpoints):
        proof = tree.tree.consistency_proof(a.size, b.size)
        assert verify_consistency(a.size, b.size, a.root, b.root, proof)
        assert not verify_consistency(a.size, b.size, b.root, a.root, proof)
    for seq in range(1, 10_001, 97):
        index = tree.index_of(seq)
        assert index == seq - 1
        covering, last = checkpoints[index // 500], checkpoints[-1]
        for c in (covering, last):
            path_ = tree.tree.inclusion_proof(index, c.size)
            assert verify_inclusion(index, c.size, tree.tree.leaves[index], path_, c.root)
    assert check_checkpoints(tree, checkpoints).ok
    code, out, _ = run("audit", "verify", str(path))
    assert code == 0
    assert "10000 entries, hash chain intact" in out
    assert "20 checkpoints" in out and "each consistent with the one before" in out


def test_a_reopened_log_resumes_its_tree_from_the_latest_checkpoint(tmp_path: Path) -> None:
    path = make_log(tmp_path / "audit.sqlite", 25, every=10)  # 10, 20, and 25 on close
    log = AuditLog(path, checkpoint_every=10, checkpoint_seconds=None)
    for i in range(5):
        log.append("check", f"more-{i}", "APPROVE", "{}", "{}")
    log.close()
    assert [c.size for c in read_checkpoints(path)] == [10, 20, 25, 30]
    assert check_checkpoints(tree_of(read_rows(path)), read_checkpoints(path)).ok


def test_a_checkpoint_is_written_every_t_seconds_while_entries_arrive(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.sqlite", checkpoint_every=1000, checkpoint_seconds=0.05)
    for i in range(3):
        log.append("check", f"o-{i}", "APPROVE", "{}", "{}")
    deadline = time.monotonic() + 5
    while not log.checkpoints() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [c.size for c in log.checkpoints()] == [3]
    time.sleep(0.15)  # no new entries: no new checkpoint
    assert [c.size for c in log.checkpoints()] == [3]
    log.close()


def test_each_checkpoint_is_handed_to_the_anchor_callback(tmp_path: Path) -> None:
    seen: list[tuple[int, bytes]] = []
    log = AuditLog(tmp_path / "audit.sqlite", checkpoint_every=4, checkpoint_seconds=None,
                   on_checkpoint=lambda c: seen.append((c.size, c.root)))  # fmt: skip
    for i in range(9):
        log.append("check", f"o-{i}", "APPROVE", "{}", "{}")
    log.close()
    assert seen == [(c.size, c.root) for c in read_checkpoints(tmp_path / "audit.sqlite")]
    assert [size for size, _ in seen] == [4, 8, 9]


def test_a_checkpoint_interval_below_one_entry_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="checkpoint_every is 0: it must be at least 1"):
        AuditLog(tmp_path / "audit.sqlite", checkpoint_every=0)


def test_checkpoint_rows_are_append_only(log40: Path) -> None:
    db = sqlite3.connect(log40)
    for sql in ("UPDATE audit_checkpoint SET root = '00'", "DELETE FROM audit_checkpoint"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(sql)
    db.close()


def test_verify_of_a_log_without_checkpoints_prints_what_it_always_printed(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    log = AuditLog(path, checkpoint_seconds=None)
    for i in range(3):
        log.append("check", f"o-{i}", "APPROVE", "{}", "{}")
    head = log.records()[-1].hash
    # A file written before checkpoints existed: no checkpoint table at all.
    log._db.execute("DROP TABLE audit_checkpoint")
    log._db.execute("DROP TABLE audit_anchor")
    log._db.close()
    code, out, _ = run("audit", "verify", str(path))
    assert (code, out) == (0, f"OK: {path}: 3 entries, hash chain intact; head {head}\n")
    code, _, err = run("audit", "prove-inclusion", "1", "--log", str(path))
    assert code == 2 and "no checkpoint yet (`zkrisk audit checkpoint` writes one)" in err


def test_an_edited_row_is_named_by_its_seq(log40: Path) -> None:
    rewrite(log40, "UPDATE audit SET outcome = 'EDITED' WHERE seq = 17", rechain=False)
    code, _, err = run("audit", "verify", str(log40))
    assert code == 1
    assert "audit chain broken at entry seq 17" in err


def test_an_edited_row_with_a_rederived_chain_breaks_the_checkpoints_naming_where(
    log40: Path,
) -> None:
    rewrite(log40, "UPDATE audit SET outcome = 'EDITED' WHERE seq = 17", rechain=True)
    code, out, err = run("audit", "verify", str(log40))
    assert code == 1
    assert "hash chain intact" in out  # the chain alone is fooled
    assert "forked history: checkpoint at size 20" in err
    assert "an entry among seq 17..20 was changed" in err
    assert "checkpoint at size 10" not in err  # the rows it covers are untouched


def test_a_dropped_row_is_named(log40: Path) -> None:
    rewrite(log40, "DELETE FROM audit WHERE seq = 25", rechain=False)
    code, _, err = run("audit", "verify", str(log40))
    assert code == 1
    assert "audit chain broken at entry seq 26: its prev" in err


def test_a_dropped_row_with_a_rederived_chain_is_counted_by_the_checkpoints(log40: Path) -> None:
    rewrite(log40, "DELETE FROM audit WHERE seq = 25", rechain=True)
    code, _, err = run("audit", "verify", str(log40))
    assert code == 1
    assert "checkpoint at size 30 covered 30 entries up to seq 30, the log holds 29 up to it: " \
        "1 dropped" in err  # fmt: skip
    assert "checkpoint at size 20" not in err


def test_reordered_rows_are_named(log40: Path) -> None:
    # Swap the decisions of seq 5 and 6 (the seqs stay in place, as a reordering would show).
    rewrite(log40, "UPDATE audit SET subject = CASE seq WHEN 5 THEN 'o-6' ELSE 'o-5' END "
                   "WHERE seq IN (5, 6)", rechain=True)  # fmt: skip
    code, _, err = run("audit", "verify", str(log40))
    assert code == 1
    assert "forked history: checkpoint at size 10" in err
    assert "an entry among seq 1..8 was changed, reordered or replaced" in err


def test_a_forked_history_of_the_same_size_is_named(log40: Path, tmp_path: Path) -> None:
    fork = make_log(tmp_path / "fork.sqlite", 40, every=1000, subject="other")
    db = sqlite3.connect(fork)
    db.execute("DROP TRIGGER audit_checkpoint_no_delete")
    db.execute("DELETE FROM audit_checkpoint")
    db.execute("ATTACH ? AS original", (str(log40),))
    db.execute("INSERT INTO audit_checkpoint SELECT * FROM original.audit_checkpoint")
    db.commit()
    db.close()
    code, out, err = run("audit", "verify", str(fork))
    assert code == 1
    assert "40 entries, hash chain intact" in out
    for size in (10, 20, 30, 40):
        assert f"forked history: checkpoint at size {size} has root" in err
    assert "which no prefix of the log reproduces" in err


def test_a_truncated_log_is_named(log40: Path) -> None:
    rewrite(log40, "DELETE FROM audit WHERE seq > 35", rechain=False)
    code, _, err = run("audit", "verify", str(log40))
    assert code == 1
    assert "checkpoint at size 40 covers 40 entries but the log holds 35: entries were " \
        "dropped from its end (truncated)" in err  # fmt: skip


def test_an_edited_checkpoint_root_is_named(log40: Path) -> None:
    db = sqlite3.connect(log40)
    db.execute("DROP TRIGGER audit_checkpoint_no_update")
    db.execute("UPDATE audit_checkpoint SET root = ? WHERE size = 20", ("ab" * 32,))
    db.commit()
    db.close()
    code, _, err = run("audit", "verify", str(log40))
    assert code == 1
    assert "forked history: checkpoint at size 20 has root abababababababab" in err
    assert "the checkpoint row itself was altered" in err
    # the next checkpoint is not consistent with the altered one either
    assert "checkpoint at size 30 is not consistent with the checkpoint at size 20" in err


def test_prove_inclusion_prints_the_leaf_and_path_and_verifies_them(log40: Path) -> None:
    code, out, _ = run("audit", "prove-inclusion", "17", "--log", str(log40))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "entry seq 17: leaf 16 of 40"
    tree = tree_of(read_rows(log40))
    assert lines[1] == f"leaf hash  {tree.tree.leaves[16].hex()}"
    path = [line.split()[-1] for line in lines[2:-2]]
    assert path == [p.hex() for p in tree.tree.inclusion_proof(16, 40)]
    assert lines[-1] == "OK: entry seq 17 is included under the latest checkpoint (size 40)"


def test_prove_inclusion_of_an_edited_row_fails(log40: Path) -> None:
    rewrite(log40, "UPDATE audit SET outcome = 'EDITED' WHERE seq = 3", rechain=True)
    code, _, err = run("audit", "prove-inclusion", "3", "--log", str(log40))
    assert code == 1
    assert "entry seq 3 is NOT included under the latest checkpoint (size 40)" in err


@pytest.mark.parametrize(("seq", "problem"), [
    (99, "no entry with seq 99"),
    (41, "entry seq 41 is leaf 40, after the latest checkpoint (size 40)"),
])  # fmt: skip
def test_prove_inclusion_of_an_entry_no_checkpoint_covers_is_bad_input(
    log40: Path, seq: int, problem: str
) -> None:
    log = AuditLog(log40, checkpoint_every=1000, checkpoint_seconds=None)
    log.append("check", "late", "APPROVE", "{}", "{}")
    log._db.close()  # as a crash would: no checkpoint on close
    code, _, err = run("audit", "prove-inclusion", str(seq), "--log", str(log40))
    assert code == 2
    assert problem in err


def test_checkpoint_command_checkpoints_the_log_as_it_stands(log40: Path) -> None:
    log = AuditLog(log40, checkpoint_every=1000, checkpoint_seconds=None)
    log.append("check", "late", "APPROVE", "{}", "{}")
    log._db.close()
    code, out, _ = run("audit", "checkpoint", str(log40))
    root = tree_of(read_rows(log40)).root(41).hex()
    assert (code, out) == (0, f"checkpoint: {log40}: size 41, up to seq 41, root {root}\n")
    assert run("audit", "checkpoint", str(log40))[:2] == (0, out)  # nothing new: the same one
    assert run("audit", "prove-inclusion", "41", "--log", str(log40))[0] == 0


@pytest.mark.parametrize("frontier", [b"\x00" * 64, b"short"])
def test_a_damaged_checkpoint_frontier_is_not_resumed_from(
    log40: Path, frontier: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    db = sqlite3.connect(log40)
    db.execute("DROP TRIGGER audit_checkpoint_no_update")
    db.execute("UPDATE audit_checkpoint SET frontier = ? WHERE size = 40", (frontier,))
    db.commit()
    db.close()
    log = AuditLog(log40, checkpoint_every=1000, checkpoint_seconds=None)
    log.append("check", "after", "APPROVE", "{}", "{}")
    log.close()  # checkpoints size 41 from the rows themselves
    assert "does not match its frontier" in caplog.text
    (latest,) = [c for c in read_checkpoints(log40) if c.size == 41]
    assert latest.root == tree_of(read_rows(log40)).root(41)


def test_verify_json_carries_the_checkpoint_check(log40: Path) -> None:
    code, out, _ = run("audit", "verify", str(log40), "--json")
    report = json.loads(out)
    assert code == 0 and report["intact"] is True and report["entries"] == 40
    assert report["checkpoints"] == {
        "count": 4, "ok": True, "problems": [], "latest_size": 40,
        "latest_root": tree_of(read_rows(log40)).root(40).hex(), "anchor": None, "anchored": 0,
    }  # fmt: skip
    rewrite(log40, "UPDATE audit SET outcome = 'EDITED' WHERE seq = 33", rechain=True)
    code, out, _ = run("audit", "verify", str(log40), "--json")
    report = json.loads(out)
    assert code == 1 and report["intact"] is True and report["checkpoints"]["ok"] is False
    assert report["checkpoints"]["problems"][0].startswith("forked history: checkpoint at size 40")


def test_the_logs_consistency_proof_between_two_checkpoints_is_the_full_trees(
    log40: Path,
) -> None:
    log = AuditLog(log40, checkpoint_seconds=None)
    tree = tree_of(read_rows(log40)).tree
    sizes = [0, *(c.size for c in log.checkpoints())]
    for size1, size2 in itertools.combinations(sizes, 2):
        proof = log.consistency_proof(size1, size2)
        assert proof == tree.consistency_proof(size1, size2)
        assert verify_consistency(size1, size2, tree.root(size1), tree.root(size2), proof)
    with pytest.raises(ProofError, match="no checkpoint at size 3 to prove from"):
        log.consistency_proof(3, 10)
    with pytest.raises(ProofError, match="no tree of 41 rows: the log holds 40"):
        log.consistency_proof(sizes[1], 41)
    log.close()
