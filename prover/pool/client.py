"""Submit proof jobs to the pool and collect verified proofs.

For a batch: subscribe to each job's result key first (no result can slip by), take a result
already stored (the statement was proved before), publish the rest with Nats-Msg-Id = job id,
then wait. Every result is checked (checks.rejection) before it is returned: a forged or wrong
proof is deleted from the bucket and the job is submitted again, at most `max_rejections`
times per job, then PoolResultRejected. A job the pool could not prove raises its error: a
WitnessError for signals that violate the circuit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from ..artifacts import CircuitArtifacts
from ..errors import ProverError, WitnessError
from ..signals import Signals
from .checks import rejection
from .jobs import MalformedMessage, Priority, ProofJob, ProofResult, key_hash
from .queue import (
    RESULTS_BUCKET,
    PoolConfig,
    connect,
    ensure_consumer,
    ensure_pool,
    job_subject,
)

Log = Callable[[str], None]


class PoolTimeout(ProverError):
    """No result arrived in time: no worker serves the circuit, or all are busy or down."""


class PoolJobFailed(ProverError):
    """The pool gave up on a job (it failed on every delivery); the message is the reason."""


class PoolResultRejected(ProverError):
    """Results came back for a job, but none proves the statement that was asked for."""


@dataclass
class _Pending:
    artifacts: CircuitArtifacts
    signals: Signals
    job: ProofJob
    attempts: int = 0
    rejected: list[str] = field(default_factory=list)
    result: ProofResult | None = None


def _timeout(pending: dict[str, _Pending], timeout_s: float) -> PoolTimeout:
    left = [p for p in pending.values() if p.result is None]
    circuits = ",".join(sorted({p.job.circuit for p in left}))
    return PoolTimeout(
        f"no result within {timeout_s:.0f}s for {len(left)} job(s) of {circuits}: is a worker "
        f"serving them? `zkrisk prover worker --nats URL --circuits {circuits}`"
    )


class PoolClient:
    """A connection to the pool; `prove_many` is the one operation."""

    def __init__(
        self,
        nc: NatsClient,
        js: JetStreamContext,
        kv: KeyValue,
        config: PoolConfig,
        log: Log,
    ) -> None:
        self._nc, self._js, self._kv, self.config, self.log = nc, js, kv, config, log
        self._keys: dict[tuple[str, int], str] = {}
        self._consumers: set[tuple[Priority, str]] = set()

    @classmethod
    async def connect(
        cls, url: str, config: PoolConfig | None = None, log: Log = lambda _line: None
    ) -> PoolClient:
        config = config or PoolConfig()
        nc = await connect(url, "zkrisk-prover-pool-client")
        js = nc.jetstream()
        return cls(nc, js, await ensure_pool(js, config), config, log)

    async def close(self) -> None:
        if self._nc.is_connected:
            await self._nc.flush(timeout=5)
        await self._nc.close()

    def _key(self, artifacts: CircuitArtifacts) -> str:
        stat = artifacts.vkey.stat()
        cache_key = (str(artifacts.vkey.resolve()), stat.st_mtime_ns)
        if cache_key not in self._keys:
            self._keys[cache_key] = key_hash(artifacts.vkey)
        return self._keys[cache_key]

    async def prove_many(
        self,
        jobs: Sequence[tuple[CircuitArtifacts, Signals]],
        *,
        priority: Priority = Priority.NORMAL,
        timeout_s: float = 600.0,
        max_rejections: int = 3,
    ) -> list[ProofResult]:
        """One verified result per job, in job order (duplicates share one job and result)."""
        now = time.time()
        pending: dict[str, _Pending] = {}
        order: list[str] = []
        for artifacts, signals in jobs:
            job = ProofJob.new(artifacts.spec.name, self._key(artifacts), signals, priority, now)
            order.append(job.job_id)
            pending.setdefault(job.job_id, _Pending(artifacts, signals, job))
        arrived: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()

        async def on_result(msg: Msg) -> None:
            if msg.headers and msg.headers.get("KV-Operation") in ("DEL", "PURGE"):
                return
            await arrived.put((msg.subject.rsplit(".", 1)[-1], msg.data))

        subs = [await self._nc.subscribe(f"$KV.{RESULTS_BUCKET}.{jid}", cb=on_result)
                for jid in pending]  # fmt: skip
        try:
            for jid, item in pending.items():
                stored = await self._stored(jid)
                if stored is not None:
                    await arrived.put((jid, stored))
                else:
                    await self._submit(item)
            deadline = time.monotonic() + timeout_s
            while any(item.result is None for item in pending.values()):
                left = deadline - time.monotonic()
                try:
                    jid, data = await asyncio.wait_for(arrived.get(), max(left, 0.001))
                except TimeoutError:
                    raise _timeout(pending, timeout_s) from None
                waiting = pending.get(jid)
                if waiting is None or waiting.result is not None:
                    continue
                await self._accept(jid, waiting, data, max_rejections)
        finally:
            for sub in subs:
                await sub.unsubscribe()
        results = []
        for jid in order:
            result = pending[jid].result
            assert result is not None
            results.append(result)
        return results

    async def _stored(self, job_id: str) -> bytes | None:
        try:
            entry = await self._kv.get(job_id)
        except KeyNotFoundError:
            return None
        return entry.value

    async def _submit(self, item: _Pending) -> None:
        job = item.job
        if (job.priority, job.circuit) not in self._consumers:
            await ensure_consumer(self._js, job.priority, job.circuit, self.config)
            self._consumers.add((job.priority, job.circuit))
        # A resubmission after a rejected result needs its own id to pass deduplication.
        msg_id = job.job_id if item.attempts == 0 else f"{job.job_id}.{item.attempts}"
        item.attempts += 1
        await self._js.publish(
            job_subject(job.priority, job.circuit), job.to_bytes(), headers={"Nats-Msg-Id": msg_id}
        )

    async def _accept(self, job_id: str, item: _Pending, data: bytes, max_rejections: int) -> None:
        """Take a verified result, raise a reported failure, or discard and resubmit."""
        try:
            result = ProofResult.from_bytes(data)
        except MalformedMessage as exc:
            reason = str(exc)
        else:
            if result.job_id != job_id:
                reason = f"result names job {result.job_id}, stored under {job_id}"
            elif result.proof is None:
                if result.error_kind == "WitnessError":
                    raise WitnessError(f"{item.job.circuit}: {result.error}")
                raise PoolJobFailed(f"{item.job.circuit} job {job_id[:12]}: {result.error}")
            else:
                reason = rejection(item.artifacts, item.signals, result.proof) or ""
                if not reason:
                    item.result = result
                    return
        item.rejected.append(reason)
        self.log(f"pool: rejected a result for job {job_id[:12]}: {reason}")
        await self._kv.delete(job_id)
        if len(item.rejected) > max_rejections:
            raise PoolResultRejected(
                f"{item.job.circuit} job {job_id[:12]}: {len(item.rejected)} results rejected "
                f"({'; '.join(item.rejected)}); is someone else publishing on the pool's subjects?"
            )
        await self._submit(item)
