"""Prove many statements at once: through a pool all in flight together, else one by one.

A backend that can overlap work (the NATS prover pool) offers `prove_many`; `prove_many` here
hands the whole batch to it so every job is submitted before the first result is awaited. Any
other backend proves the jobs sequentially, in order. Either way results come back in job order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from .artifacts import CircuitArtifacts
from .backends.base import ProvingBackend
from .errors import ProverError
from .proof import Proof
from .signals import Signals

Job = tuple[CircuitArtifacts, Signals]


@runtime_checkable
class BatchProver(Protocol):
    """A backend that accepts a whole batch (submits all jobs before waiting for any)."""

    def prove_many(self, jobs: Sequence[Job]) -> list[Proof]: ...


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
