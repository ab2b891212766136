"""The SQLite audit log: append-only, hash-chained, numbered across restarts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from zkrisk.engine.audit import AuditLog


def test_rows_are_numbered_in_order_and_keep_counting_after_reopening(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.sqlite")
    assert log.append("check", "o-1", "APPROVE", "{}", "{}").seq == 1
    reserved = log.reserve()
    assert log.append("check", "o-2", "REJECT", "{}", "{}", seq=reserved).seq == 2
    log.close()
    reopened = AuditLog(tmp_path / "a.sqlite")
    assert reopened.append("killswitch", "ops", "ENGAGED", "{}", "{}").seq == 3
    assert [r.subject for r in reopened.records()] == ["o-1", "o-2", "ops"]
    assert reopened.verify() is None


@pytest.mark.parametrize(
    "sql", ["UPDATE audit SET outcome = 'APPROVE' WHERE seq = 1", "DELETE FROM audit"]
)
def test_updates_and_deletes_are_refused(tmp_path: Path, sql: str) -> None:
    log = AuditLog(tmp_path / "a.sqlite")
    log.append("check", "o-1", "REJECT", "{}", "{}")
    db = sqlite3.connect(tmp_path / "a.sqlite")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute(sql)
    db.close()


def test_an_edit_behind_the_triggers_back_breaks_the_hash_chain(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.sqlite")
    for subject in ("o-1", "o-2", "o-3"):
        log.append("check", subject, "REJECT", "{}", "{}")
    db = sqlite3.connect(tmp_path / "a.sqlite")
    db.execute("DROP TRIGGER audit_no_update")
    db.execute("UPDATE audit SET outcome = 'APPROVE' WHERE seq = 2")
    db.commit()
    db.close()
    assert log.verify() == 2
