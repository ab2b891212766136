"""`zkrisk prover worker` as real processes: one killed mid-job, one stopped with SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import nats

from zkrisk.engine.natsio.server import NatsNode
from zkrisk.prover import snarkjs_cli
from zkrisk.prover.artifacts import CircuitArtifacts
from zkrisk.prover.backends import PoolBackend
from zkrisk.prover.pool.queue import RESULTS_BUCKET
from zkrisk.prover.proof import Proof

from ..prover.cases import holding
from .conftest import TEST_ACK_WAIT_S, StartedNotices, running_worker, worker_process


def _prove_in_background(
    pool: PoolBackend, artifacts: CircuitArtifacts, nonce: int
) -> Future[Proof]:
    executor = ThreadPoolExecutor(max_workers=1)
    future = executor.submit(pool.prove, artifacts, holding(nonce=nonce).signals())
    executor.shutdown(wait=False)
    return future


async def _result_revisions(url: str, job_id: str) -> int:
    nc = await nats.connect(url)
    try:
        kv = await nc.jetstream().key_value(RESULTS_BUCKET)
        return len(await kv.history(job_id))
    finally:
        await nc.close()


def test_a_worker_killed_mid_job_has_the_job_finished_by_another_worker_with_one_result(
    nats_node: NatsNode, pool: PoolBackend, health4: CircuitArtifacts, tmp_path: Path
) -> None:
    notices = StartedNotices(nats_node.url)
    doomed = worker_process(nats_node.url, "doomed", tmp_path / "doomed.log", "--hold", "120")
    try:
        proving = _prove_in_background(pool, health4, nonce=30)
        started = notices.wait_for("doomed")
        with running_worker(nats_node.url, {"health4": health4}, "rescuer") as rescuer:
            doomed.send_signal(signal.SIGKILL)
            doomed.wait(timeout=10)
            killed_at = time.monotonic()
            proof = proving.result(timeout=60)
            waited = time.monotonic() - killed_at
    finally:
        notices.close()
        if doomed.poll() is None:
            doomed.kill()
    assert proof.public_signals == holding(nonce=30).public_signals()
    assert snarkjs_cli.verify(health4.vkey, proof)
    (result,) = pool.last_results
    assert (result.worker, result.delivery) == ("rescuer", 2)
    assert rescuer.proved == 1
    # Back after ack_wait (the dead worker's last heartbeat was at most ack_wait / 3 earlier).
    assert TEST_ACK_WAIT_S / 2 < waited < TEST_ACK_WAIT_S + 30
    assert asyncio.run(_result_revisions(nats_node.url, str(started["job_id"]))) == 1


def test_a_slow_worker_that_reports_progress_keeps_its_job_past_ack_wait(
    nats_node: NatsNode, pool: PoolBackend, health4: CircuitArtifacts, tmp_path: Path
) -> None:
    notices = StartedNotices(nats_node.url)
    slow = worker_process(nats_node.url, "slow", tmp_path / "slow.log", "--hold",
                          str(3 * TEST_ACK_WAIT_S))  # fmt: skip
    try:
        proving = _prove_in_background(pool, health4, nonce=31)
        notices.wait_for("slow")
        # An idle worker would take the job if it came back after ack_wait: it must not.
        with running_worker(nats_node.url, {"health4": health4}, "idle") as idle:
            proof = proving.result(timeout=60)
    finally:
        notices.close()
        slow.send_signal(signal.SIGTERM)
        slow.wait(timeout=30)
    assert proof.public_signals == holding(nonce=31).public_signals()
    (result,) = pool.last_results
    assert (result.worker, result.delivery) == ("slow", 1)
    assert idle.proved == 0


def test_sigterm_while_a_job_is_held_hands_it_back_at_once_and_exits_cleanly(
    nats_node: NatsNode, pool: PoolBackend, health4: CircuitArtifacts, tmp_path: Path
) -> None:
    notices = StartedNotices(nats_node.url)
    leaving = worker_process(nats_node.url, "leaving", tmp_path / "leaving.log", "--hold", "120")
    try:
        proving = _prove_in_background(pool, health4, nonce=32)
        notices.wait_for("leaving")
        leaving.send_signal(signal.SIGTERM)
        code = leaving.wait(timeout=30)
        stopped_at = time.monotonic()
        with running_worker(nats_node.url, {"health4": health4}, "next"):
            proving.result(timeout=60)
        handed_over = time.monotonic() - stopped_at
    finally:
        notices.close()
        if leaving.poll() is None:
            leaving.kill()
    assert code == 0
    assert "stopped after 0 proofs" in (tmp_path / "leaving.log").read_text()
    (result,) = pool.last_results
    assert result.worker == "next" and result.delivery == 2
    assert handed_over < TEST_ACK_WAIT_S  # naked, not left to time out
