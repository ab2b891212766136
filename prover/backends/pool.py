"""The pool backend: proofs from `zkrisk prover worker` processes over NATS JetStream.

`PoolBackend(url)` is a ProvingBackend whose `prove_many` submits a whole batch before waiting,
so N workers prove N jobs at once, and whose `stream()` takes jobs one at a time (each submitted
at once) and hands back results as they arrive, so the workers prove while the caller is still
preparing the next statements. Every proof it returns was verified here, against the local
verification key and the caller's own public inputs: a result from the network is untrusted.
The NATS client runs on a private event loop in a daemon thread, so the synchronous interface
works the same from plain code and from inside another event loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

from ..artifacts import CircuitArtifacts
from ..proof import Proof
from ..signals import Signals
from .base import ProvingBackend

T = TypeVar("T")

#: Environment variable with the pool's NATS URL; when set, backend "best" means the pool.
POOL_ENV_VAR = "ZKRISK_PROVER_POOL"


class PoolBackend(ProvingBackend):
    """Proofs from the prover pool at `url` (nats://host:port)."""

    name = "pool"

    def __init__(
        self, url: str, *, priority: str = "normal", timeout_s: float = 600.0, **config: Any
    ) -> None:
        from ..pool.jobs import Priority
        from ..pool.queue import PoolConfig

        self.url = url
        self.priority = Priority(priority)
        self.timeout_s = timeout_s
        self.config = PoolConfig(**config)
        self.last_results: list[Any] = []  # ProofResults of the last batch to finish (timings)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: Any = None
        self._lock = threading.Lock()

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def _connected(self) -> Any:
        from ..pool.client import PoolClient

        if self._client is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                            name="zkrisk-prover-pool")  # fmt: skip
            self._thread.start()
            self._client = self._run(PoolClient.connect(self.url, self.config))
        return self._client

    def prove(self, artifacts: CircuitArtifacts, signals: Signals) -> Proof:
        return self.prove_many([(artifacts, signals)])[0]

    def prove_many(self, jobs: Sequence[tuple[CircuitArtifacts, Signals]]) -> list[Proof]:
        """All jobs submitted, then awaited; verified proofs in job order."""
        with self._lock:
            client = self._connected()
        # Not under the lock: batches from several threads are in flight together.
        results = self._run(
            client.prove_many(jobs, priority=self.priority, timeout_s=self.timeout_s)
        )
        self.last_results = results
        return [r.proof for r in results]

    def stream(self) -> PoolStream:
        """A stream of jobs on this pool (see PoolStream); close it when done."""
        with self._lock:
            client = self._connected()
        return PoolStream(self, client.session(priority=self.priority))

    def close(self) -> None:
        with self._lock:
            if self._client is not None and self._loop is not None:
                try:
                    self._run(self._client.close())
                finally:
                    self._loop.call_soon_threadsafe(self._loop.stop)
                    if self._thread is not None:
                        self._thread.join(timeout=5)
                    self._loop.close()
            self._client, self._loop, self._thread = None, None, None


class PoolStream:
    """A pool session driven from the caller's thread (the `zkrisk.prover.batch.ProofStream`
    of a pool). `submit` returns at once, the job is published on the pool's loop; `ready`
    takes the outcomes that have arrived, `wait` blocks for at least one. An outcome is a
    verified proof or the job's own exception; a timeout (no result for the backend's
    `timeout_s`) is the outcome of every job still outstanding."""

    def __init__(self, backend: PoolBackend, session: Any) -> None:
        self._backend, self._session = backend, session
        self._submits: list[Future[None]] = []
        self._outstanding = 0
        self._results: list[Any] = []

    def submit(self, tag: int, artifacts: CircuitArtifacts, signals: Signals) -> None:
        loop = self._backend._loop
        assert loop is not None
        coro = self._session.submit(tag, artifacts, signals)
        self._submits.append(asyncio.run_coroutine_threadsafe(coro, loop))
        self._outstanding += 1

    def ready(self) -> list[tuple[int, Proof | Exception]]:
        async def arrived() -> list[tuple[int, Any]]:
            await self._session.pump()
            return list(self._session.ready_now())

        return self._proofs(self._backend._run(arrived()))

    def wait(self) -> list[tuple[int, Proof | Exception]]:
        if not self._outstanding:
            return []
        for submitted in self._submits:  # every tag is known to the session before it waits
            submitted.result()
        self._submits.clear()
        return self._proofs(self._backend._run(self._session.next(self._backend.timeout_s)))

    def _proofs(self, outcomes: list[tuple[int, Any]]) -> list[tuple[int, Proof | Exception]]:
        self._outstanding -= len(outcomes)
        out: list[tuple[int, Proof | Exception]] = []
        for tag, outcome in outcomes:
            if isinstance(outcome, Exception):
                out.append((tag, outcome))
            else:
                self._results.append(outcome)
                out.append((tag, outcome.proof))
        return out

    def close(self) -> None:
        for submitted in self._submits:
            submitted.result()
        self._backend._run(self._session.close())
        if self._results:  # as prove_many: the last batch that proved anything
            self._backend.last_results = self._results
