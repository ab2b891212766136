"""Submit proof jobs to the pool and collect verified proofs.

For a batch: subscribe to each job's result key first (no result can slip by), take a result
already stored (the statement was proved before), publish the rest with Nats-Msg-Id = job id,
then wait. Every result is checked (checks.rejection) before it is returned: a forged or wrong
proof is deleted from the bucket and the job is submitted again, at most `max_rejections`
times per job, then PoolResultRejected. A job the pool could not prove raises its error: a
WitnessError for signals that violate the circuit.

A session (`PoolClient.session`) is the same per job, for a caller that has its jobs one at a
time: each is submitted as soon as it is ready and results are taken as they arrive, so the
workers prove while the caller is still preparing the next statements. `prove_many` is a session
that submits the whole batch first.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

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
    """A connection to the pool: `prove_many` for a batch, `session` for a stream of jobs."""

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
        """One verified result per job, in job order (duplicates share one job and result).
        Every job is submitted before any result is awaited; the first failure raises."""
        session = self.session(priority=priority, max_rejections=max_rejections)
        try:
            for tag, (artifacts, signals) in enumerate(jobs):
                await session.submit(tag, artifacts, signals)
            results: dict[int, ProofResult] = {}
            while len(results) < len(jobs):
                for tag, outcome in await session.next(timeout_s):
                    if isinstance(outcome, BaseException):
                        raise outcome
                    results[tag] = outcome
        finally:
            await session.close()
        return [results[tag] for tag in range(len(jobs))]

    def session(
        self, *, priority: Priority = Priority.NORMAL, max_rejections: int = 3
    ) -> PoolSession:
        """A stream of jobs: submit each when it is ready, take results as they arrive."""
        return PoolSession(self, priority, max_rejections)

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


Outcome = ProofResult | Exception


class PoolSession:
    """Jobs submitted one at a time, results in arrival order (`next`), each verified first.

    A job's failure (its witness error, the pool giving up, results rejected too often, its
    publish failing) is that job's outcome; the others go on. Tags are the caller's names for
    jobs; tags whose statements are equal share one job and get the same result.
    """

    def __init__(self, client: PoolClient, priority: Priority, max_rejections: int) -> None:
        self._client, self._priority, self._max_rejections = client, priority, max_rejections
        self._pending: dict[str, _Pending] = {}
        self._tags: dict[str, list[int]] = {}
        self._subs: list[Any] = []
        self._arrived: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._ready: list[tuple[int, Outcome]] = []

    @property
    def outstanding(self) -> int:
        """Tags submitted whose outcome `next` has not returned yet."""
        return sum(len(tags) for tags in self._tags.values())

    async def submit(self, tag: int, artifacts: CircuitArtifacts, signals: Signals) -> None:
        """Subscribe to the job's result key first (no result can slip by), take a result stored
        before (the statement was proved already), else publish the job."""
        client = self._client
        job = ProofJob.new(artifacts.spec.name, client._key(artifacts), signals, self._priority,
                           time.time())  # fmt: skip
        jid = job.job_id
        if jid in self._pending:  # the same statement again: one job, one result for both
            self._tags[jid].append(tag)
            return
        item = self._pending[jid] = _Pending(artifacts, signals, job)
        self._tags[jid] = [tag]
        try:
            self._subs.append(
                await client._nc.subscribe(f"$KV.{RESULTS_BUCKET}.{jid}", cb=self._on_result)
            )
            stored = await client._stored(jid)
            if stored is not None:
                await self._arrived.put((jid, stored))
            else:
                await client._submit(item)
        except Exception as exc:  # this job never reached the pool: its failure alone
            self._fail(jid, exc)

    async def _on_result(self, msg: Msg) -> None:
        if msg.headers and msg.headers.get("KV-Operation") in ("DEL", "PURGE"):
            return
        await self._arrived.put((msg.subject.rsplit(".", 1)[-1], msg.data))

    def _fail(self, jid: str, exc: Exception) -> None:
        self._ready += [(tag, exc) for tag in self._tags.pop(jid, [])]

    async def next(self, timeout_s: float) -> list[tuple[int, Outcome]]:
        """At least one (tag, verified result or exception), waiting up to `timeout_s` for it;
        [] when nothing is outstanding. A timeout is the outcome of every outstanding tag."""
        deadline = time.monotonic() + timeout_s
        while not self._ready and self._tags:
            left = deadline - time.monotonic()
            try:
                jid, data = await asyncio.wait_for(self._arrived.get(), max(left, 0.001))
            except TimeoutError:
                waiting = {j: p for j, p in self._pending.items() if j in self._tags}
                error = _timeout(waiting, timeout_s)
                for jid in list(self._tags):
                    self._fail(jid, error)
                break
            await self._take(jid, data)
        ready, self._ready = self._ready, []
        return ready

    def ready_now(self) -> list[tuple[int, Outcome]]:
        """What has arrived already, without waiting (the results are verified first)."""
        ready, self._ready = self._ready, []
        return ready

    async def pump(self) -> None:
        """Verify every result that has arrived so far (for `ready_now`)."""
        while not self._arrived.empty():
            await self._take(*self._arrived.get_nowait())

    async def _take(self, jid: str, data: bytes) -> None:
        item = self._pending.get(jid)
        if item is None or item.result is not None or jid not in self._tags:
            return
        try:
            await self._client._accept(jid, item, data, self._max_rejections)
        except Exception as exc:  # WitnessError, PoolJobFailed, PoolResultRejected
            self._fail(jid, exc)
            return
        if item.result is not None:
            self._ready += [(tag, item.result) for tag in self._tags.pop(jid)]

    async def close(self) -> None:
        for sub in self._subs:
            await sub.unsubscribe()
        self._subs.clear()
