"""SIGKILL during a reconnect, then a restart: nothing lost, nothing twice, order intact."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from zkrisk.engine.journal.sqlite import SQLiteJournal
from zkrisk.engine.pipeline.feed_server import Faults, FeedServer

from .feed_support import market_data, seqs

CHILD = Path(__file__).with_name("ingest_child.py")


class ServerThread:
    """The feed server on its own event loop, so the test can drive it while children run."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.server = FeedServer(faults=Faults(duplicate_rate=0.05, reorder_rate=0.05, seed=9))
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.call(self.server.start())

    def call(self, coro: object) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)  # type: ignore[arg-type]

    def publish(self, n: int) -> None:
        async def go() -> None:
            self.server.publish(n)
            self.server.flush()

        self.call(go())

    def stop(self) -> None:
        self.call(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


@pytest.fixture
def feed() -> Iterator[ServerThread]:
    s = ServerThread()
    try:
        yield s
    finally:
        s.stop()


def child(journal: Path, url: str, target: int, crash_at: str | None) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.pop("ZKRISK_CRASH_AT", None)
    if crash_at:
        env["ZKRISK_CRASH_AT"] = crash_at
    return subprocess.Popen([sys.executable, str(CHILD), str(journal), url, str(target)], env=env)


def test_a_kill_during_a_reconnect_then_a_restart_loses_nothing_and_repeats_nothing(
    feed: ServerThread, tmp_path: Path
) -> None:
    path = tmp_path / "journal.sqlite"
    proc = child(path, feed.server.url, 10**9, "ingest.reconnect")
    feed.call(feed.server.subscribed())
    feed.publish(2_000)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # wait until a good part is journaled, then cut the line
        if path.exists():
            with SQLiteJournal(path, readonly=True) as j:
                if j.last_sequence("md.feed") >= 1_000:
                    break
        time.sleep(0.05)
    feed.call(feed.server.outage(0.3, "close"))
    assert proc.wait(timeout=10) == -signal.SIGKILL
    with SQLiteJournal(path, readonly=True) as j:
        before = len(market_data(j, "feed"))
    assert before > 0
    feed.publish(2_000)
    time.sleep(0.4)  # the outage is over
    restarted = child(path, feed.server.url, 2_000, None)
    assert restarted.wait(timeout=30) == 0
    with SQLiteJournal(path, readonly=True) as j:
        md = market_data(j, "feed")
        for symbol in ("WETH", "WBTC"):
            assert seqs(md, symbol) == list(range(1, 2_001))
        assert len({r.key for r in md}) == len(md) == 4_000
