"""The pool backend: proofs from `zkrisk prover worker` processes over NATS JetStream.

`PoolBackend(url)` is a ProvingBackend whose `prove_many` submits a whole batch before waiting,
so N workers prove N jobs at once. Every proof it returns was verified here, against the local
verification key and the caller's own public inputs: a result from the network is untrusted.
The NATS client runs on a private event loop in a daemon thread, so the synchronous interface
works the same from plain code and from inside another event loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Sequence
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
