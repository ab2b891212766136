"""The worker loop: pull a job, prove it with a warm backend, store the result, then ack.

Order of a job's life on one worker:

    pull (high consumers first, then normal) → already a proof stored? ack, done
    → announce "started" → prove (in a thread; +WPI heartbeats every ack_wait / 3 keep the job
    while a slow but alive worker proves) → store the result with create() (first result wins)
    → ack.

A worker that dies before the ack loses nothing: JetStream delivers the job again after ack_wait
and another worker proves it. Signals that violate the circuit are not retried: the witness
error is stored as the job's result, the job goes to the dead letter with it and is terminated.
Any other failure is retried (nak) until max_deliver, then dead-lettered the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from ..artifacts import CircuitArtifacts
from ..backends.base import ProvingBackend
from ..backends.native import NativeBackend
from ..binfmt import read_wtns_public
from ..errors import WitnessError
from ..proof import Proof
from ..signals import Signals
from .jobs import PRIORITY_ORDER, MalformedMessage, ProofJob, ProofResult, Timings, key_hash
from .queue import (
    PoolConfig,
    connect,
    dead_subject,
    ensure_consumer,
    ensure_pool,
    started_subject,
)

Log = Callable[[str], None]
#: How long an idle worker waits on a normal-priority consumer before looking at high again.
IDLE_POLL_S = 0.25
HIGH_POLL_S = 0.02


def prove_timed(
    backend: ProvingBackend, artifacts: CircuitArtifacts, signals: Signals
) -> tuple[Proof, float | None, float]:
    """(proof, witness ms, prove ms); the native backend's two steps are timed apart."""
    started = time.perf_counter()
    if not isinstance(backend, NativeBackend):
        proof = backend.prove(artifacts, signals)
        return proof, None, (time.perf_counter() - started) * 1000
    proving_key = backend.proving_key(artifacts.zkey)
    with tempfile.TemporaryDirectory(prefix="zkrisk-pool-") as tmp:
        wtns = backend.calculate_witness(artifacts, signals, Path(tmp) / "witness.wtns")
        witnessed = time.perf_counter()
        blob = importlib.import_module("groth16py").prove_wtns(proving_key, str(wtns))
        public = read_wtns_public(wtns, artifacts.compiled.info.n_public)
    proved = time.perf_counter()
    words = [int.from_bytes(blob[i : i + 32], "big") for i in range(0, 256, 32)]
    return (Proof.from_calldata(words, list(public)), (witnessed - started) * 1000,
            (proved - witnessed) * 1000)  # fmt: skip


@dataclass
class _Served:
    artifacts: CircuitArtifacts
    key: str


class PoolWorker:
    """One worker: proves jobs for `artifacts`' circuits, one at a time, with `backend`."""

    def __init__(
        self,
        url: str,
        backend: ProvingBackend,
        artifacts: Mapping[str, CircuitArtifacts],
        *,
        worker_id: str,
        config: PoolConfig | None = None,
        hold_s: float = 0.0,
        log: Log = print,
    ) -> None:
        if not artifacts:
            raise ValueError("a prover worker needs at least one circuit to serve")
        self.url = url
        self.backend = backend
        self.served = {n: _Served(a, key_hash(a.vkey)) for n, a in artifacts.items()}
        self.worker_id = worker_id
        self.config = config or PoolConfig()
        self.hold_s = hold_s  # fault injection: wait this long (heartbeating) before proving
        self.log = log
        self.proved = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set; the job in hand is finished (or naked while held)."""
        nc = await connect(self.url, f"zkrisk-prover-{self.worker_id}")
        try:
            js = nc.jetstream()
            kv = await ensure_pool(js, self.config)
            subs = []
            for priority in PRIORITY_ORDER:
                for circuit in self.served:
                    durable = await ensure_consumer(js, priority, circuit, self.config)
                    sub = await js.pull_subscribe_bind(durable, stream="ZKRISK_PROOF_JOBS")
                    subs.append((sub, HIGH_POLL_S if priority.value == "high" else IDLE_POLL_S))
            self.log(f"worker {self.worker_id}: serving {', '.join(self.served)} on {self.url}")
            while not stop.is_set():
                for sub, poll in subs:
                    try:
                        msgs = await sub.fetch(1, timeout=poll)
                    except NatsTimeout:
                        continue
                    await self._handle(nc, js, kv, msgs[0], stop)
                    break  # after every job, look at the high consumers first again
        finally:
            # close, not drain: nats-py never marks a pull subscription's fetched messages
            # done, so drain() waits forever; flush first so the last ack is on the wire.
            await _close(nc)

    async def _handle(
        self, nc: NatsClient, js: JetStreamContext, kv: KeyValue, msg: Msg, stop: asyncio.Event
    ) -> None:
        delivery = msg.metadata.num_delivered
        try:
            job = ProofJob.from_bytes(msg.data)
        except MalformedMessage as exc:
            await self._dead(js, msg, "unknown", None, f"malformed job: {exc}")
            return
        served = self.served.get(job.circuit)
        if served is None or served.key != job.key:
            reason = (f"no worker with verification key {job.key[:16]}… for {job.circuit} "
                      f"(this one has {served.key[:16] if served else 'no such circuit'}…)")  # fmt: skip
            if delivery >= self.config.max_deliver:
                await self._dead(js, msg, job.circuit, job, reason, kv=kv, delivery=delivery)
            else:
                await msg.nak(delay=1.0)  # another worker may have that key
            return
        if await _has_proof(kv, job.job_id):
            await msg.ack()  # proved before: its worker died after storing, before acking
            return
        started_wall = time.time()
        await nc.publish(
            started_subject(job.job_id),
            json.dumps(
                {"job_id": job.job_id, "worker": self.worker_id, "delivery": delivery}
            ).encode(),
        )
        heartbeat = asyncio.create_task(self._heartbeat(msg))
        try:
            if self.hold_s > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.hold_s)
                if stop.is_set():
                    await msg.nak()  # stopping before proving: hand the job on at once
                    return
            try:
                proof, witness_ms, prove_ms = await asyncio.to_thread(
                    prove_timed, self.backend, served.artifacts, job.decoded_signals()
                )
            except WitnessError as exc:
                await self._dead(js, msg, job.circuit, job, str(exc), kv=kv, delivery=delivery,
                                 kind="WitnessError")  # fmt: skip
                return
            except Exception as exc:  # a crashed helper, a broken artefact: worth a retry
                reason = f"{type(exc).__name__}: {exc}"
                if delivery >= self.config.max_deliver:
                    await self._dead(js, msg, job.circuit, job, reason, kv=kv,
                                     delivery=delivery, kind=type(exc).__name__)  # fmt: skip
                else:
                    self.log(
                        f"worker {self.worker_id}: job {job.job_id[:12]} failed, retry: {reason}"
                    )
                    await msg.nak(delay=1.0)
                return
        finally:
            heartbeat.cancel()
        timings = Timings((started_wall - job.submitted_at) * 1000, witness_ms, prove_ms)
        result = ProofResult(job.job_id, self.worker_id, delivery, proof, None, None, timings)
        await store_first(kv, job.job_id, result)
        await msg.ack()
        self.proved += 1
        self.log(f"worker {self.worker_id}: proved {job.circuit} job {job.job_id[:12]} "
                 f"(delivery {delivery}) in {prove_ms + (witness_ms or 0):.0f} ms")  # fmt: skip

    async def _heartbeat(self, msg: Msg) -> None:
        interval = self.config.ack_wait_s / 3
        while True:
            await asyncio.sleep(interval)
            await msg.in_progress()

    async def _dead(
        self,
        js: JetStreamContext,
        msg: Msg,
        circuit: str,
        job: ProofJob | None,
        reason: str,
        *,
        kv: KeyValue | None = None,
        delivery: int = 1,
        kind: str = "MalformedMessage",
    ) -> None:
        """Dead-letter the job with its reason, store the reason as its result, terminate it."""
        body = {"reason": reason, "kind": kind, "worker": self.worker_id, "delivery": delivery,
                "job": msg.data.decode(errors="replace")}  # fmt: skip
        await js.publish(dead_subject(circuit), json.dumps(body).encode())
        if job is not None and kv is not None:
            failure = ProofResult(job.job_id, self.worker_id, delivery, None, reason, kind, None)
            await store_first(kv, job.job_id, failure)
        await msg.term()
        self.log(f"worker {self.worker_id}: dead-lettered a {circuit} job: {reason}")


async def _close(nc: NatsClient) -> None:
    if nc.is_connected:
        await nc.flush(timeout=5)
    await nc.close()


async def _has_proof(kv: KeyValue, job_id: str) -> bool:
    try:
        entry = await kv.get(job_id)
    except KeyNotFoundError:
        return False
    try:
        return entry.value is not None and ProofResult.from_bytes(entry.value).ok
    except MalformedMessage:
        return False


async def store_first(kv: KeyValue, job_id: str, result: ProofResult) -> bool:
    """Store `result` unless the job has one already; True when this one was stored."""
    try:
        await kv.create(job_id, result.to_bytes())
    except KeyWrongLastSequenceError:
        return False
    return True
