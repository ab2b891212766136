"""Prover-pool fixtures: a real NATS server, workers in this process or as real processes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import nats
import pytest

from tests.conftest import REPO
from tests.nats_fixtures import nats_node as nats_node  # the fixture, re-exported
from zkrisk.engine.natsio.server import NatsNode
from zkrisk.prover.artifacts import CircuitArtifacts
from zkrisk.prover.backends import NativeBackend, PoolBackend
from zkrisk.prover.pool.queue import STARTED_SUBJECTS, PoolConfig
from zkrisk.prover.pool.worker import PoolWorker

#: Short enough for a redelivery test to take seconds, long enough for a loaded machine.
TEST_ACK_WAIT_S = 2.0


@contextmanager
def running_worker(
    url: str,
    artifacts: Mapping[str, CircuitArtifacts],
    worker_id: str = "w-in-process",
    *,
    config: PoolConfig | None = None,
    log: list[str] | None = None,
) -> Iterator[PoolWorker]:
    """A PoolWorker on its own event loop in a thread, stopped (and its backend closed) after."""
    lines = log if log is not None else []
    backend = NativeBackend()
    worker = PoolWorker(url, backend, artifacts, worker_id=worker_id,
                        config=config or PoolConfig(ack_wait_s=TEST_ACK_WAIT_S), log=lines.append)  # fmt: skip
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            loop.run_until_complete(worker.run(stop))
        except BaseException as exc:  # reported to the test below
            errors.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)
        loop.close()
        backend.close()
    assert not errors, errors


def worker_process(url: str, worker_id: str, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    """`zkrisk prover worker` as a real process serving health4, its stderr going to `log`."""
    argv = [sys.executable, "-m", "zkrisk.engine.cli", "prover", "worker", "--nats", url,
            "--circuits", "health4", "--backend", "native", "--worker-id", worker_id,
            "--ack-wait", str(TEST_ACK_WAIT_S), *extra]  # fmt: skip
    with log.open("wb") as err:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(argv, cwd=REPO, env=dict(os.environ), stderr=err,
                                stdout=subprocess.DEVNULL)  # fmt: skip


class StartedNotices:
    """Collects the workers' "started job" notices (core NATS) on a thread of its own."""

    def __init__(self, url: str) -> None:
        self.seen: list[dict[str, object]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(url), self._loop).result(timeout=10)

    async def _listen(self, url: str) -> None:
        self._nc = await nats.connect(url)

        async def on_notice(msg: nats.aio.msg.Msg) -> None:
            self.seen.append(json.loads(msg.data))

        await self._nc.subscribe(STARTED_SUBJECTS, cb=on_notice)
        await self._nc.flush()

    def wait_for(self, worker: str, timeout: float = 60.0) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for notice in self.seen:
                if notice["worker"] == worker:
                    return notice
            time.sleep(0.02)
        raise AssertionError(f"worker {worker} never started a job; notices: {self.seen}")

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._nc.close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@pytest.fixture
def pool(nats_node: NatsNode) -> Iterator[PoolBackend]:
    backend = PoolBackend(nats_node.url, timeout_s=60, ack_wait_s=TEST_ACK_WAIT_S)
    try:
        yield backend
    finally:
        backend.close()
