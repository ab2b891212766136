"""`zkrisk journal tail|replay|verify` on real journal files, opened read-only, and on a
JetStream journal on a real nats-server (`--journal nats://...`)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zkrisk.engine.cli.main import app
from zkrisk.engine.journal.base import JournalError
from zkrisk.engine.journal.jetstream import JetStreamJournal
from zkrisk.engine.journal.opening import open_journal
from zkrisk.engine.journal.projection import Heads, StreamHeads, load_projection
from zkrisk.engine.journal.sqlite import SCHEMA_VERSION, SQLiteJournal
from zkrisk.engine.natsio.server import NatsNode

from ..nats_fixtures import nats_node
from .journal_fixtures import T0, heartbeat, quote

__all__ = ["nats_node"]  # the fixture

runner = CliRunner()
ZKRISK = str(Path(sys.executable).parent / "zkrisk")  # the installed console script


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def journal_db(tmp_path: Path) -> Path:
    path = tmp_path / "journal.db"
    with SQLiteJournal(path) as j:
        j.append([quote(n) for n in range(1, 21)])
        j.append([heartbeat("ingest", T0, cause="md:feed:ETH:20")])
        load_projection(j, StreamHeads(), snapshot_every=8)  # snapshots at 8 and 16
    return path


def test_tail_prints_the_last_records_one_per_line(journal_db: Path) -> None:
    code, out, _ = run("journal", "tail", "--journal", str(journal_db), "-n", "2")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2 and lines[0].split()[:4] == ["20", "md.feed#20", "Quote",
                                                         "md:feed:ETH:20"]  # fmt: skip
    assert "monitor#1  Heartbeat  hb:ingest:" in lines[1] and "<- md:feed:ETH:20" in lines[1]


def test_tail_from_a_position_of_one_stream_as_json(journal_db: Path) -> None:
    args = ("--journal", str(journal_db), "--stream", "md.feed", "--from", "18", "--json")
    code, out, _ = run("journal", "tail", *args)
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["position"] for r in records] == [18, 19, 20]
    assert records[0]["event"]["bid"] == "3018.10" and records[0]["type"] == "Quote"
    code, out, _ = run("journal", "tail", "--journal", str(journal_db), "-s", "monitor", "-n", "5")
    assert code == 0 and len(out.splitlines()) == 1


def test_tail_follow_prints_records_appended_by_a_live_writer(journal_db: Path) -> None:
    follow = subprocess.Popen(
        [ZKRISK, "journal", "tail", "--journal",
         str(journal_db), "--from", "21", "--follow", "--count", "3", "--interval", "0.05"],
        stdout=subprocess.PIPE, text=True)  # fmt: skip
    time.sleep(0.5)
    with SQLiteJournal(journal_db) as j:
        j.append([quote(21)])
        j.append([quote(22)])
    out, _ = follow.communicate(timeout=30)
    assert follow.returncode == 0
    assert [line.split()[0] for line in out.splitlines()] == ["21", "22", "23"]


def test_replay_prints_the_state_and_that_it_equals_the_snapshot_based_one(
    journal_db: Path,
) -> None:
    code, out, _ = run("journal", "replay", "--journal", str(journal_db))
    assert code == 0
    assert out.splitlines()[-1] == ("heads.v1 at position 21: snapshot at position 16 + 5 "
                                    "records equals the from-scratch replay")  # fmt: skip
    state = json.loads(out.rsplit("\n", 2)[0])
    assert state["sources"] == {"feed/ETH": 20} and state["streams"]["monitor"]["sequence"] == 1


def test_replay_of_a_stale_snapshot_exits_1(journal_db: Path) -> None:
    db = sqlite3.connect(journal_db)
    wrong = Heads({"md.ghost": (3, "md:ghost:ETH:3")}, {})
    db.execute("UPDATE snapshots SET state = ? WHERE name = 'heads.v1'",
               (StreamHeads().to_bytes(wrong),))  # fmt: skip
    db.commit()
    db.close()
    code, out, err = run("journal", "replay", "--journal", str(journal_db), "--json")
    assert code == 1 and json.loads(out)["equal"] is False
    assert "differs from a replay from genesis" in " ".join(err.split())


def test_replay_of_an_unknown_projection_exits_2(journal_db: Path) -> None:
    code, _, err = run("journal", "replay", "--journal", str(journal_db), "-p", "nope")
    assert code == 2 and "unknown; choose one of heads" in err


def test_verify_of_an_intact_journal_exits_0_and_writes_nothing(journal_db: Path) -> None:
    before = journal_db.read_bytes()
    code, out, _ = run("journal", "verify", str(journal_db))
    with SQLiteJournal(journal_db, readonly=True) as j:
        head = j.read(20)[0].hash
    assert code == 0 and out == f"OK: {journal_db}: 21 events, hash chain intact; head {head}\n"
    assert journal_db.read_bytes() == before


def test_verify_of_an_edited_event_exits_1_naming_its_row(journal_db: Path) -> None:
    # The fixture's 20 quotes are one row (positions 1-20), its heartbeat the next (21).
    db = sqlite3.connect(journal_db)
    db.executescript("DROP TRIGGER events_no_update;"
                     "UPDATE events SET bodies = replace(bodies, '3007', '3008') WHERE first = 1;")  # fmt: skip
    db.close()
    code, out, err = run("journal", "verify", str(journal_db))
    message = " ".join(err.split())
    assert code == 1 and out == ""
    assert (
        f"{journal_db}: journal chain broken at position 1: the row of positions 1–20:" in message
    )
    assert "(0 events before it verify)" in message
    code, out, _ = run("journal", "verify", str(journal_db), "--json")
    assert code == 1 and json.loads(out)["bad_position"] == 1


def test_bad_input_exits_2_with_an_error_line(tmp_path: Path) -> None:
    code, _, err = run("journal", "verify", str(tmp_path / "missing.db"))
    assert code == 2 and "error:" in err and "missing.db: file not found" in err
    (tmp_path / "notes.txt").write_text("not a database\n" * 100)
    code, _, err = run("journal", "tail", "--journal", str(tmp_path / "notes.txt"))
    assert code == 2 and "not a zkrisk journal" in err
    sqlite3.connect(tmp_path / "audit.db").executescript("CREATE TABLE audit (seq);")
    code, _, err = run("journal", "replay", "--journal", str(tmp_path / "audit.db"))
    assert code == 2 and "no meta table" in err
    with SQLiteJournal(tmp_path / "future.db"):
        pass
    db = sqlite3.connect(tmp_path / "future.db")
    db.execute(
        "UPDATE meta SET value = ? WHERE name = 'schema_version'", (str(SCHEMA_VERSION + 1),)
    )
    db.commit()
    db.close()
    code, _, err = run("journal", "verify", str(tmp_path / "future.db"))
    wanted = f"schema version {SCHEMA_VERSION + 1}, this zkrisk reads version {SCHEMA_VERSION}"
    assert code == 2 and wanted in " ".join(err.split())


@pytest.fixture
def nats_journal(nats_node: NatsNode) -> str:
    """The journal_db records on a real NATS server, as a `--journal` spec."""
    spec = f"{nats_node.url}/clitest"
    with open_journal(spec) as j:  # type: ignore[attr-defined]
        j.append([quote(n) for n in range(1, 21)])
        j.append([heartbeat("ingest", T0, cause="md:feed:ETH:20")])
        load_projection(j, StreamHeads(), snapshot_every=8)
    return spec


def test_tail_replay_and_verify_read_a_jetstream_journal_named_by_its_url(
    nats_journal: str,
) -> None:
    code, out, _ = run("journal", "tail", "--journal", nats_journal, "-n", "2")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:4] == ["20", "md.feed#20", "Quote", "md:feed:ETH:20"]
    assert "<- md:feed:ETH:20" in lines[1]
    code, out, _ = run("journal", "replay", "--journal", nats_journal)
    assert code == 0 and out.splitlines()[-1] == (
        "heads.v1 at position 21: snapshot at position 16 + 5 records equals the from-scratch "
        "replay"
    )
    code, out, _ = run("journal", "verify", nats_journal)
    with open_journal(nats_journal) as j:  # type: ignore[attr-defined]
        head = j.read(20)[0].hash
    assert code == 0 and out == f"OK: {nats_journal}: 21 events, hash chain intact; head {head}\n"


def test_reading_a_jetstream_journal_that_does_not_exist_exits_2_and_creates_nothing(
    nats_node: NatsNode,
) -> None:
    code, _, err = run("journal", "tail", "--journal", f"{nats_node.url}/nothing")
    assert code == 2 and "no journal 'nothing' on this server" in " ".join(err.split())
    with pytest.raises(JournalError, match="no journal 'nothing'"):
        JetStreamJournal(nats_node.url, prefix="nothing", create=False)  # still not created
