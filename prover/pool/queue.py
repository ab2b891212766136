"""The pool on JetStream: one work-queue stream of jobs, a dead-letter stream, a results bucket.

    ZKRISK_PROOF_JOBS   work-queue stream, subjects zkrisk.proofs.jobs.<priority>.<circuit>;
                        one durable explicit-ack pull consumer per (priority, circuit), shared by
                        every worker, so each job goes to exactly one worker at a time; a job not
                        acked within ack_wait (its worker died) is delivered again, up to
                        max_deliver times. Nats-Msg-Id = job id: a duplicate submit inside the
                        stream's duplicate window is stored once.
    ZKRISK_PROOF_DEAD   jobs that cannot be proved (bad signals, too many failed attempts), with
                        the reason, for an operator to look at.
    zkrisk-proofs       KV bucket of results keyed by job id; a worker writes with create(), so
                        the first result wins and a second worker finishing the same job (after
                        a redelivery) stores nothing.

Every call here is idempotent: a worker and a client may each ensure the pool exists.
"""

from __future__ import annotations

import json
import logging

import nats
from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DiscardPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError, NotFoundError
from nats.js.kv import KeyValue
from pydantic import BaseModel, ConfigDict, Field

from ..errors import ProverError
from .jobs import Priority

_LOG = logging.getLogger("zkrisk.prover.pool")
JOBS_STREAM = "ZKRISK_PROOF_JOBS"
DEAD_STREAM = "ZKRISK_PROOF_DEAD"
RESULTS_BUCKET = "zkrisk-proofs"
JOB_SUBJECTS = "zkrisk.proofs.jobs.>"
DEAD_SUBJECTS = "zkrisk.proofs.dead.>"
#: Core-NATS (not stored) notices a worker publishes when it starts a job: for logs and tests.
STARTED_SUBJECTS = "zkrisk.proofs.started.>"


class PoolUnreachable(ProverError):
    """The pool's NATS server cannot be reached; says which URL was tried."""


class PoolConfig(BaseModel):
    """How long a job may be held without an ack, and how often it is retried."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ack_wait_s: float = Field(30.0, gt=0)
    """A job whose worker neither acks nor reports progress for this long is redelivered."""
    max_deliver: int = Field(5, ge=1)
    """Deliveries before a job that keeps failing goes to the dead letter."""
    duplicate_window_s: float = Field(120.0, gt=0)
    """A job submitted again within this window is stored once (Nats-Msg-Id)."""
    results_ttl_s: float | None = Field(None, gt=0)
    """How long results are kept (None: until deleted)."""


def job_subject(priority: Priority, circuit: str) -> str:
    return f"zkrisk.proofs.jobs.{priority.value}.{circuit}"


def dead_subject(circuit: str) -> str:
    return f"zkrisk.proofs.dead.{circuit}"


def started_subject(job_id: str) -> str:
    return f"zkrisk.proofs.started.{job_id}"


def consumer_name(priority: Priority, circuit: str) -> str:
    """The durable consumer every worker of `circuit` shares for `priority`."""
    return f"prove-{priority.value}-{circuit}"


async def connect(url: str, name: str) -> NatsClient:
    """Fail fast when `url` is wrong or down (PoolUnreachable), reconnect without end after.

    nats-py has one reconnect policy for the first connect and later ones (by default 60
    attempts 2 s apart: two minutes before a typo in the URL is reported)."""
    try:
        nc = await nats.connect(url, name=name, connect_timeout=5, max_reconnect_attempts=1,
                                reconnect_time_wait=0.5, error_cb=_log_error)  # fmt: skip
    except (OSError, NatsError) as exc:
        raise PoolUnreachable(
            f"cannot reach NATS at {url}: {exc or type(exc).__name__}; check the URL, or start "
            "a server with JetStream (nats-server --jetstream)"
        ) from None
    nc.options["max_reconnect_attempts"] = -1
    nc.options["reconnect_time_wait"] = 2.0
    return nc


async def _log_error(exc: Exception) -> None:
    """One line per connection error (nats-py's default logs a traceback for each attempt)."""
    _LOG.warning("nats: %s: %s", type(exc).__name__, exc)


async def ensure_pool(js: JetStreamContext, config: PoolConfig) -> KeyValue:
    """Create the streams and the results bucket unless they exist; returns the bucket."""
    await _ensure_stream(
        js,
        StreamConfig(
            name=JOBS_STREAM, subjects=[JOB_SUBJECTS], retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE, duplicate_window=config.duplicate_window_s,
            discard=DiscardPolicy.OLD,
        ),
    )  # fmt: skip
    await _ensure_stream(
        js, StreamConfig(name=DEAD_STREAM, subjects=[DEAD_SUBJECTS], storage=StorageType.FILE)
    )
    try:
        return await js.key_value(RESULTS_BUCKET)
    except NotFoundError:
        return await js.create_key_value(
            KeyValueConfig(
                bucket=RESULTS_BUCKET, history=1, ttl=config.results_ttl_s, storage=StorageType.FILE
            )
        )


async def _ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    try:
        await js.stream_info(str(config.name))
    except NotFoundError:
        try:
            await js.add_stream(config)
        except BadRequestError:  # created meanwhile by another process
            await js.stream_info(str(config.name))


async def ensure_consumer(
    js: JetStreamContext, priority: Priority, circuit: str, config: PoolConfig
) -> str:
    """The shared pull consumer for (priority, circuit); returns its durable name."""
    name = consumer_name(priority, circuit)
    wanted = ConsumerConfig(
        durable_name=name, filter_subject=job_subject(priority, circuit),
        ack_policy=AckPolicy.EXPLICIT, ack_wait=config.ack_wait_s,
        max_deliver=config.max_deliver, max_ack_pending=-1,
    )  # fmt: skip
    try:
        await js.add_consumer(JOBS_STREAM, wanted)
    except BadRequestError:  # it exists with other settings: the first process's settings hold
        await js.consumer_info(JOBS_STREAM, name)
    return name


async def pool_status(js: JetStreamContext) -> dict[str, object]:
    """Jobs waiting and in flight per consumer, results stored, dead letters with reasons."""
    try:
        jobs = await js.stream_info(JOBS_STREAM)
    except NotFoundError:
        return {"consumers": {}, "queued": 0, "results": 0, "dead": []}
    consumers = {}
    for info in await js.consumers_info(JOBS_STREAM):
        consumers[str(info.name)] = {"waiting": info.num_pending, "in_flight": info.num_ack_pending,
                                     "redelivered": info.num_redelivered}  # fmt: skip
    results = (await js.stream_info(f"KV_{RESULTS_BUCKET}")).state.messages
    dead_info = await js.stream_info(DEAD_STREAM)
    dead = []
    if dead_info.state.messages:
        for seq in range(dead_info.state.first_seq, dead_info.state.last_seq + 1):
            try:
                letter = json.loads((await js.get_msg(DEAD_STREAM, seq)).data or b"{}")
            except NotFoundError:
                continue
            dead.append({"kind": letter.get("kind"), "reason": letter.get("reason")})
    return {"consumers": consumers, "queued": jobs.state.messages, "results": results,
            "dead": dead}  # fmt: skip
