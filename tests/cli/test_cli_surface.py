"""The command line's own surface: --version, help texts as written, `zkrisk audit verify`."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from zkrisk.engine.audit import AuditLog
from zkrisk.engine.cli.main import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_version_prints_the_installed_version_and_exits_0() -> None:
    code, out, _ = run("--version")
    assert (code, out) == (0, f"zkrisk {version('zkrisk')}\n")


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command path of the app (typer vendors click, so duck-type the groups)."""
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def _help_texts(command: Any) -> list[str]:
    texts = [command.help or "", command.epilog or ""]
    texts += [getattr(p, "help", None) or "" for p in command.params]
    return texts


COMMANDS = list(_commands(typer.main.get_command(app)))


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "zkrisk")
def test_help_keeps_every_word_in_brackets(path: tuple[str, ...]) -> None:
    command: Any = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    code, out, err = run(*path, "--help")
    assert code == 0, err
    shown = " ".join(out.split())
    for text in _help_texts(command):
        for bracketed in re.findall(r"\[[^\]]*\]", text):
            assert " ".join(bracketed.split()) in shown, f"{bracketed} lost from {path} --help"


def test_a_help_text_with_brackets_is_shown_as_written() -> None:
    code, out, _ = run("prove", "--help")
    assert code == 0
    assert "[health] / [limits] / [attest]" in " ".join(out.split())


def test_the_command_list_shows_each_summary_in_full() -> None:
    code, out, _ = run("--help")
    assert code == 0 and "..." not in out.split("Commands:")[1]
    assert "audit" in out and "--version" in out


# ------------------------------------------------------------------ audit verify


@pytest.fixture
def audit_db(tmp_path: Path) -> Path:
    path = tmp_path / "audit.sqlite"
    log = AuditLog(path)
    for n in range(1, 4):
        log.append("check", f"desk-a-{n:06d}", "APPROVE", f'{{"n": {n}}}', '{"ok": true}')
    log.close()
    return path


def _tamper(path: Path, sql: str) -> None:
    """An edit behind the append-only triggers' back (another tool, a hex editor)."""
    db = sqlite3.connect(path)
    db.executescript(f"DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete; {sql}")
    db.close()


def test_audit_verify_of_an_intact_log_exits_0_with_the_count_and_the_head(audit_db: Path) -> None:
    log = AuditLog(audit_db)
    head = log.records()[-1].hash
    log.close()
    code, out, _ = run("audit", "verify", str(audit_db))
    assert code == 0
    chain, checkpoints = out.splitlines()  # the log checkpointed its 3 entries on close
    assert chain == f"OK: {audit_db}: 3 entries, hash chain intact; head {head}"
    assert checkpoints.startswith(f"OK: {audit_db}: 1 checkpoint (latest: size 3, root ")


def test_audit_verify_of_an_edited_entry_exits_1_naming_it(audit_db: Path) -> None:
    _tamper(audit_db, "UPDATE audit SET outcome = 'REJECT' WHERE seq = 2;")
    code, out, err = run("audit", "verify", str(audit_db))
    assert code == 1 and out == ""
    message = " ".join(err.split())
    assert f"{audit_db}: audit chain broken at entry seq 2" in message
    assert "do not hash to its stored hash" in message and "(1 entries before it verify)" in message


def test_audit_verify_of_a_deleted_entry_exits_1_naming_the_one_after_it(audit_db: Path) -> None:
    _tamper(audit_db, "DELETE FROM audit WHERE seq = 2;")
    code, _, err = run("audit", "verify", str(audit_db))
    assert code == 1
    assert "broken at entry seq 3: its prev" in " ".join(err.split())


def test_audit_verify_json_reports_the_first_bad_entry(audit_db: Path) -> None:
    _tamper(audit_db, "UPDATE audit SET request = '{}' WHERE seq = 3;")
    code, out, _ = run("audit", "verify", str(audit_db), "--json")
    assert code == 1
    assert '"intact": false' in out and '"bad_seq": 3' in out and '"entries": 2' in out


def test_audit_verify_does_not_write_to_the_log(audit_db: Path) -> None:
    before = audit_db.read_bytes()
    assert run("audit", "verify", str(audit_db))[0] == 0
    assert audit_db.read_bytes() == before


def test_audit_verify_of_a_missing_or_foreign_file_exits_2(tmp_path: Path) -> None:
    code, _, err = run("audit", "verify", str(tmp_path / "nope.sqlite"))
    assert code == 2 and "nope.sqlite: file not found" in err
    (tmp_path / "notes.txt").write_text("hello\n")
    code, _, err = run("audit", "verify", str(tmp_path / "notes.txt"))
    assert code == 2 and "not a zkrisk audit database" in err
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).executescript("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
    code, _, err = run("audit", "verify", str(other))
    assert code == 2 and "no such table: audit" in err


def test_setup_names_the_ptau_it_used_and_the_cache_it_searched(session_cache: Path) -> None:
    code, _, err = run("setup", "health4")
    assert code == 0, err
    message = " ".join(err.split())
    assert f"ptau cache: {session_cache / 'ptau'} ($ZKRISK_CACHE moves it)" in message
    assert re.search(r"ptau power \d+ \(DEVELOPMENT \(insecure\), \w+: /\S+\.ptau\)", message)
