"""What the JetStream journal adds to the contract, against a real nats-server: the server's
deduplication (inside and past its window), a durable consumer killed with SIGKILL resuming
after its last ack, a restarted server keeping everything, and a down server named."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import nats
import pytest

from zkrisk.engine.chain.anvil import free_port
from zkrisk.engine.journal.base import JournalError
from zkrisk.engine.journal.jetstream import JetStreamJournal
from zkrisk.engine.journal.jetstream_wire import token
from zkrisk.engine.natsio.server import NatsNode, start_nats

from ..nats_fixtures import nats_node
from .journal_fixtures import T0, heartbeat, quote

__all__ = ["nats_node"]  # the fixture
REPO = Path(__file__).resolve().parents[2]


async def _republish(url: str, subject: str, data: bytes, headers: dict[str, str]) -> dict:
    """A second writer that bypasses the journal: one bare JetStream publish."""
    nc = await nats.connect(url)
    try:
        reply = await nc.request(subject, data, headers=headers, timeout=5)
        import json

        return dict(json.loads(reply.data))
    finally:
        await nc.close()


def test_a_repeat_from_a_writer_that_knows_nothing_of_the_key_returns_the_original(
    nats_node: NatsNode,
) -> None:
    with JetStreamJournal(nats_node.url) as first:
        (original,) = first.append([quote(1)])
        stored = first.stream_messages()
        with JetStreamJournal(nats_node.url) as second:  # knows nothing of the first's keys
            assert second.append([quote(1), quote(2)])[0] == original
            assert second.get(original.key) == original
        assert first.stream_messages() == stored + 2  # quote 2 and its stream's marker only
        assert first.head() == 2 and first.verify().intact


def test_the_server_refuses_a_second_message_for_a_key_whoever_sends_it(
    nats_node: NatsNode,
) -> None:
    with JetStreamJournal(nats_node.url) as j:
        (original,) = j.append([quote(1)])
        stored = j.stream_messages()
        tok = token(original.key)
        ack = asyncio.run(_republish(nats_node.url, f"zkrisk.e.{tok}.md.feed", b"x", {
            "Nats-Expected-Last-Subject-Sequence": "0",
            "Nats-Expected-Last-Subject-Sequence-Subject": f"zkrisk.e.{tok}.>",
        }))  # fmt: skip
        assert ack["error"]["err_code"] == 10071  # wrong last sequence: the key has a message
        assert j.stream_messages() == stored and j.head() == 1


def test_a_duplicate_publish_is_stored_once(nats_node: NatsNode) -> None:
    with JetStreamJournal(nats_node.url) as j:
        (original,) = j.append([quote(1)])
        stored = j.stream_messages()
        tok = token(original.key)
        ack = asyncio.run(_republish(nats_node.url, f"zkrisk.e.{tok}.md.feed", b"x", {
            "Nats-Msg-Id": tok,
        }))  # fmt: skip
        assert ack.get("duplicate") is True  # the server's deduplication, by the key's token
        assert j.stream_messages() == stored and j.head() == 1


def test_a_stage_may_move_its_cursor_and_snapshot_to_records_another_process_appended(
    nats_node: NatsNode,
) -> None:
    with JetStreamJournal(nats_node.url) as ingest, JetStreamJournal(nats_node.url) as stage:
        stage.append([heartbeat("pipeline", T0)])  # the stage's tail is now cached at 1
        ingest.append([quote(1), quote(2)])  # another writer: the head is 3
        (beat,) = stage.append([heartbeat("pipeline", T0 + 1)], cursor=("pipeline", 3))
        stage.save_snapshot("pipeline.state", 4, b"s")
        assert (beat.position, stage.cursor("pipeline")) == (4, 3)
        assert stage.load_snapshot("pipeline.state") == (4, b"s")
        with pytest.raises(JournalError, match="past the head"):
            stage.append([], cursor=("pipeline", 99))  # past the head for everyone


def test_a_consumer_killed_with_sigkill_resumes_from_its_last_ack(
    nats_node: NatsNode, tmp_path: Path
) -> None:
    total = 60
    with JetStreamJournal(nats_node.url) as j:
        j.append([d for n in range(1, 31) for d in (quote(n), heartbeat("ingest", T0 + n))])
    db = tmp_path / "projection.db"
    argv = [sys.executable, "-m", "tests.journal.jetstream_worker", nats_node.url, "zkrisk",
            "stage-monitor", str(db), str(total)]  # fmt: skip

    def run(crash_at: str | None) -> int:
        env = {k: v for k, v in os.environ.items() if k != "ZKRISK_CRASH_AT"}
        if crash_at:
            env["ZKRISK_CRASH_AT"] = crash_at
        return subprocess.run(argv, cwd=REPO, env=env, timeout=60).returncode

    assert run("projection.after_commit_before_ack@7") == -signal.SIGKILL
    assert run("projection.before_commit@4") == -signal.SIGKILL
    assert run(None) == 0
    rows = sqlite3.connect(db).execute("SELECT position FROM applied").fetchall()
    assert sorted(p for (p,) in rows) == list(range(1, total + 1))  # none lost, none twice


def test_a_server_restarted_on_its_store_keeps_everything(nats_node: NatsNode) -> None:
    with JetStreamJournal(nats_node.url) as j:
        out = j.append([quote(1), quote(2), heartbeat("ingest", T0)], cursor=("signal", 0))
        j.commit_cursor("signal", 2)
        j.save_snapshot("heads.v1", 3, b"state")
    nats_node.kill()  # SIGKILL: no graceful flush
    node = start_nats(nats_node.store_dir, port=nats_node.port)
    try:
        with JetStreamJournal(node.url) as j:
            assert j.read() == out and j.cursor("signal") == 2
            assert j.load_snapshot("heads.v1") == (3, b"state") and j.verify().intact
            assert j.append([quote(3)])[0].position == 4
    finally:
        node.stop()


def test_a_server_that_is_down_gives_a_clear_error_naming_the_url() -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(JournalError, match=f"{url}: cannot connect to the NATS server"):
        JetStreamJournal(url, timeout=1.0)
    assert time.monotonic() - started < 10


def test_a_server_gone_mid_run_gives_a_clear_error(nats_node: NatsNode) -> None:
    j = JetStreamJournal(nats_node.url, timeout=0.5)
    j.append([quote(1)])
    nats_node.stop()
    with pytest.raises(JournalError, match=nats_node.url):
        j.append([quote(2)])
    j.close()


def test_an_append_past_the_atomic_batch_limit_is_refused_whole(nats_node: NatsNode) -> None:
    with JetStreamJournal(nats_node.url) as j:
        with pytest.raises(JournalError, match="exceeds JetStream's atomic batch of 1000"):
            j.append([quote(n) for n in range(1, 1001)])
        assert j.head() == 0
