"""The prover pool on a real NATS server with real proofs of Health(4)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import nats
import pytest
from nats.js.errors import NotFoundError

from zkrisk.engine.natsio.server import NatsNode
from zkrisk.prover import snarkjs_cli
from zkrisk.prover.artifacts import CircuitArtifacts
from zkrisk.prover.backends import PoolBackend
from zkrisk.prover.errors import WitnessError
from zkrisk.prover.pool.client import PoolTimeout
from zkrisk.prover.pool.jobs import Priority, ProofJob, ProofResult, key_hash
from zkrisk.prover.pool.queue import DEAD_STREAM, JOBS_STREAM, RESULTS_BUCKET, job_subject
from zkrisk.prover.pool.worker import store_first
from zkrisk.prover.proof import Proof

from ..prover.cases import holding, out_of_range
from .conftest import TEST_ACK_WAIT_S, running_worker


def _in_background(call: object) -> Future[object]:
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(call)  # type: ignore[arg-type]
    pool.shutdown(wait=False)
    return future


async def _stream_messages(url: str, stream: str) -> list[bytes]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        return [
            (await js.get_msg(stream, seq)).data or b""
            for seq in range(info.state.first_seq, info.state.last_seq + 1)
            if info.state.messages
        ]
    finally:
        await nc.close()


def test_a_submitted_job_is_proved_by_a_worker_and_the_client_gets_a_verified_proof(
    nats_node: NatsNode, pool: PoolBackend, health4: CircuitArtifacts
) -> None:
    statement = holding(nonce=1)
    with running_worker(nats_node.url, {"health4": health4}, "w1"):
        proof = pool.prove(health4, statement.signals())
    assert proof.public_signals == statement.public_signals()
    assert snarkjs_cli.verify(health4.vkey, proof)
    (result,) = pool.last_results
    assert result.worker == "w1" and result.delivery == 1
    assert result.timings is not None and result.timings.prove_ms > 0
    assert result.timings.witness_ms is not None and result.timings.queue_wait_ms >= 0


def test_the_same_statement_submitted_twice_is_proved_once(
    nats_node: NatsNode, pool: PoolBackend, health4: CircuitArtifacts
) -> None:
    signals = holding(nonce=2).signals()
    with running_worker(nats_node.url, {"health4": health4}) as worker:
        first, again = pool.prove_many([(health4, signals), (health4, signals)])
        later = pool.prove(health4, signals)  # the stored result, not a new proof
    assert first == again == later
    assert worker.proved == 1


def test_a_duplicate_submit_of_a_job_is_stored_once_in_the_queue(
    nats_node: NatsNode, health4: CircuitArtifacts
) -> None:
    job = ProofJob.new("health4", key_hash(health4.vkey), holding(nonce=3).signals(),
                       Priority.NORMAL, 0.0)  # fmt: skip

    async def submit_twice() -> tuple[bool, bool, int]:
        from zkrisk.prover.pool.queue import PoolConfig, ensure_pool

        nc = await nats.connect(nats_node.url)
        js = nc.jetstream()
        await ensure_pool(js, PoolConfig())
        subject, headers = job_subject(job.priority, "health4"), {"Nats-Msg-Id": job.job_id}
        one = await js.publish(subject, job.to_bytes(), headers=headers)
        two = await js.publish(subject, job.to_bytes(), headers=headers)
        stored = (await js.stream_info(JOBS_STREAM)).state.messages
        await nc.close()
        return one.duplicate or False, two.duplicate or False, stored

    assert asyncio.run(submit_twice()) == (False, True, 1)


def test_two_clients_submitting_the_same_statement_queue_one_job(
    nats_node: NatsNode, health4: CircuitArtifacts
) -> None:
    signals = holding(nonce=6).signals()
    clients = [PoolBackend(nats_node.url, timeout_s=60, ack_wait_s=TEST_ACK_WAIT_S) for _ in "ab"]
    try:
        waiting = [_in_background(lambda c=c: c.prove(health4, signals)) for c in clients]
        _wait_for_stored(nats_node.url, 1)
        time.sleep(0.5)  # the second submit has had its chance to land
        assert _stored_jobs(nats_node.url) == 1
        with running_worker(nats_node.url, {"health4": health4}) as worker:
            first, second = (w.result(timeout=60) for w in waiting)
    finally:
        for client in clients:
            client.close()
    assert first == second and worker.proved == 1


def test_without_a_worker_the_client_times_out_naming_the_command_to_start_one(
    nats_node: NatsNode, health4: CircuitArtifacts
) -> None:
    with (
        PoolBackend(nats_node.url, timeout_s=1) as lonely,
        pytest.raises(PoolTimeout, match="zkrisk prover worker --nats URL --circuits health4"),
    ):
        lonely.prove(health4, holding(nonce=7).signals())


def test_a_second_result_for_a_job_does_not_replace_the_first(nats_node: NatsNode) -> None:
    async def store_twice() -> tuple[bool, bool, bytes | None]:
        from zkrisk.prover.pool.queue import PoolConfig, ensure_pool

        nc = await nats.connect(nats_node.url)
        kv = await ensure_pool(nc.jetstream(), PoolConfig())
        first = ProofResult("job", "w1", 1, None, "first", "ProverError", None)
        second = ProofResult("job", "w2", 2, None, "second", "ProverError", None)
        stored = await store_first(kv, "job", first), await store_first(kv, "job", second)
        value = (await kv.get("job")).value
        await nc.close()
        return stored[0], stored[1], value

    one, two, value = asyncio.run(store_twice())
    assert (one, two) == (True, False)
    assert value is not None and ProofResult.from_bytes(value).worker == "w1"


def test_a_forged_result_is_rejected_and_the_job_is_proved_for_real(
    nats_node: NatsNode, pool: PoolBackend, health4: CircuitArtifacts
) -> None:
    wanted = holding(nonce=4)
    job = ProofJob.new("health4", key_hash(health4.vkey), wanted.signals(), Priority.NORMAL, 0.0)
    with running_worker(nats_node.url, {"health4": health4}, "honest"):
        other = pool.prove(health4, holding(nonce=5).signals())  # a valid proof, wrong statement
    # Its points with the wanted public signals: a proof that does not verify.
    relabelled = Proof(other.a, other.b, other.c, tuple(wanted.public_signals()))
    forged = [ProofResult(job.job_id, "mallory", 1, p, None, None, None)
              for p in (other, relabelled)]  # fmt: skip
    log: list[str] = []

    async def write(result: ProofResult) -> None:
        nc = await nats.connect(nats_node.url)
        kv = await nc.jetstream().key_value(RESULTS_BUCKET)
        await kv.put(job.job_id, result.to_bytes())
        await nc.close()

    asyncio.run(write(forged[0]))  # waiting in the bucket before the client asks
    pool._connected().log = log.append
    proving = _in_background(lambda: pool.prove(health4, wanted.signals()))
    _wait_until(lambda: len(log) == 1)
    asyncio.run(write(forged[1]))  # and one arriving while the client waits
    _wait_until(lambda: len(log) == 2)
    with running_worker(nats_node.url, {"health4": health4}, "honest"):
        proof = proving.result(timeout=60)
    assert isinstance(proof, Proof)
    assert proof.public_signals == wanted.public_signals()
    assert snarkjs_cli.verify(health4.vkey, proof)
    assert pool.last_results[0].worker == "honest"
    assert "public signal 4 is" in log[0], log
    assert "does not verify under the verification key" in log[1], log
    assert len(log) == 2


def _wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_a_job_with_bad_signals_ends_in_the_dead_letter_and_the_client_gets_the_witness_error(
    nats_node: NatsNode, pool: PoolBackend, health4: CircuitArtifacts
) -> None:
    lines: list[str] = []
    with (
        running_worker(nats_node.url, {"health4": health4}, "w1", log=lines),
        pytest.raises(WitnessError, match="Num2Bits") as raised,
    ):
        pool.prove(health4, out_of_range())
    assert "health4" in str(raised.value)
    (dead,) = asyncio.run(_stream_messages(nats_node.url, DEAD_STREAM))
    letter = json.loads(dead)
    assert letter["kind"] == "WitnessError" and "Num2Bits" in letter["reason"]
    assert letter["delivery"] == 1  # not retried: bad signals stay bad
    assert sum("dead-lettered" in line for line in lines) == 1


def test_high_priority_jobs_are_proved_before_normal_ones_that_waited_longer(
    nats_node: NatsNode, health4: CircuitArtifacts
) -> None:
    normal = PoolBackend(nats_node.url, timeout_s=60, ack_wait_s=TEST_ACK_WAIT_S)
    high = PoolBackend(nats_node.url, priority="high", timeout_s=60, ack_wait_s=TEST_ACK_WAIT_S)
    lines: list[str] = []
    try:
        normal_jobs = [(health4, holding(nonce=10 + i).signals()) for i in range(2)]
        waiting_normal = _in_background(lambda: normal.prove_many(normal_jobs))
        _wait_for_stored(nats_node.url, 2)
        waiting_high = _in_background(lambda: high.prove(health4, holding(nonce=20).signals()))
        _wait_for_stored(nats_node.url, 3)
        with running_worker(nats_node.url, {"health4": health4}, "w1", log=lines):
            waiting_high.result(timeout=60)
            waiting_normal.result(timeout=60)
    finally:
        normal.close()
        high.close()
    proved = [line for line in lines if "proved" in line]
    assert len(proved) == 3
    high_id = ProofJob.new("health4", key_hash(health4.vkey), holding(nonce=20).signals(),
                           Priority.HIGH, 0.0).job_id  # fmt: skip
    assert high_id[:12] in proved[0], proved


def _stored_jobs(url: str) -> int:
    async def stored() -> int:
        nc = await nats.connect(url)
        try:
            return (await nc.jetstream().stream_info(JOBS_STREAM)).state.messages
        except NotFoundError:  # the client has not created the pool yet
            return 0
        finally:
            await nc.close()

    return asyncio.run(stored())


def _wait_for_stored(url: str, count: int, timeout: float = 20.0) -> None:
    done = threading.Event()
    for _ in range(int(timeout / 0.05)):
        if _stored_jobs(url) >= count:
            done.set()
            break
        done.wait(0.05)
    assert done.is_set(), f"fewer than {count} jobs reached the queue within {timeout}s"
