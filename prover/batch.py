"""Prove many statements at once: through a pool all in flight together, else one by one.

A backend that can overlap work (the NATS prover pool) offers `prove_many`; `prove_many` here
hands the whole batch to it so every job is submitted before the first result is awaited. Any
other backend proves the jobs sequentially, in order. Either way results come back in job order.

`open_stream` is the same for a caller whose statements become ready one at a time (a keeper
reading the chain account by account): each job is submitted as soon as it is ready and outcomes
come back as they arrive, in any order, each under the caller's tag. On a pool the workers prove
while the caller prepares the next statement; any other backend proves in `wait`, in order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol, runtime_checkable

from .artifacts import CircuitArtifacts
from .backends.base import ProvingBackend
from .errors import ProverError
from .proof import Proof
from .signals import Signals

Job = tuple[CircuitArtifacts, Signals]
Outcome = tuple[int, Proof | Exception]
"""(the caller's tag of a job, its proof or the exception that ended it)."""


@runtime_checkable
class BatchProver(Protocol):
    """A backend that accepts a whole batch (submits all jobs before waiting for any)."""

    def prove_many(self, jobs: Sequence[Job]) -> list[Proof]: ...


class ProofStream(Protocol):
    """Jobs submitted one at a time; outcomes in arrival order, one per submitted tag."""

    def submit(self, tag: int, artifacts: CircuitArtifacts, signals: Signals) -> None:
        """Hand one job over; returns without waiting for its proof."""

    def ready(self) -> list[Outcome]:
        """The outcomes that have arrived since the last call, without waiting."""

    def wait(self) -> list[Outcome]:
        """At least one outcome while any job is outstanding (blocks for it); [] when none is."""

    def close(self) -> None: ...


@runtime_checkable
class StreamingProver(Protocol):
    """A backend with its own stream (the pool: jobs proved while the caller goes on)."""

    def stream(self) -> ProofStream: ...


class SequentialStream:
    """The stream of a backend that proves in the caller's thread: `wait` proves the next job."""

    def __init__(self, backend: ProvingBackend) -> None:
        self._backend = backend
        self._queue: deque[tuple[int, CircuitArtifacts, Signals]] = deque()

    def submit(self, tag: int, artifacts: CircuitArtifacts, signals: Signals) -> None:
        self._queue.append((tag, artifacts, signals))

    def ready(self) -> list[Outcome]:
        return []  # nothing proves until the caller waits

    def wait(self) -> list[Outcome]:
        if not self._queue:
            return []
        tag, artifacts, signals = self._queue.popleft()
        try:
            return [(tag, self._backend.prove(artifacts, signals))]
        except Exception as exc:  # this job's failure: the next ones still get proved
            return [(tag, exc)]

    def close(self) -> None:
        self._queue.clear()


@contextmanager
def open_stream(backend: ProvingBackend) -> Iterator[ProofStream]:
    """`backend`'s own stream when it has one, else a SequentialStream; closed on exit."""
    stream = backend.stream() if isinstance(backend, StreamingProver) else SequentialStream(backend)
    try:
        yield stream
    finally:
        stream.close()


def prove_many(backend: ProvingBackend, jobs: Sequence[Job]) -> list[Proof]:
    """One proof per (artifacts, signals) job, in job order.

    The first job that fails raises (a WitnessError for bad signals), as `backend.prove` would.
    """
    if not jobs:
        return []
    if isinstance(backend, BatchProver):
        proofs = backend.prove_many(jobs)
        if len(proofs) != len(jobs):
            raise ProverError(
                f"{type(backend).__name__}.prove_many returned {len(proofs)} proofs "
                f"for {len(jobs)} jobs"
            )
        return proofs
    return [backend.prove(artifacts, signals) for artifacts, signals in jobs]
