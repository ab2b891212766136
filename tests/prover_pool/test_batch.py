"""prove_many: a pool gets the whole batch at once; any other backend proves in job order."""

from __future__ import annotations

from collections.abc import Sequence

from zkrisk.prover.artifacts import CircuitArtifacts
from zkrisk.prover.backends import NativeBackend
from zkrisk.prover.batch import Job, prove_many
from zkrisk.prover.proof import Proof
from zkrisk.prover.signals import Signals

from ..prover.cases import holding


class _CountingBackend(NativeBackend):
    """A real native backend that records which calls it received."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []
        self.singles = 0

    def prove(self, artifacts: CircuitArtifacts, signals: Signals) -> Proof:
        self.singles += 1
        return super().prove(artifacts, signals)


class _BatchingBackend(_CountingBackend):
    def prove_many(self, jobs: Sequence[Job]) -> list[Proof]:
        self.batches.append(len(jobs))
        return [NativeBackend.prove(self, a, s) for a, s in jobs]


def test_prove_many_without_a_batch_method_proves_sequentially_in_job_order(
    health4: CircuitArtifacts,
) -> None:
    statements = [holding(nonce=900 + i) for i in range(3)]
    with _CountingBackend() as backend:
        proofs = prove_many(backend, [(health4, s.signals()) for s in statements])
    assert backend.singles == 3
    assert [p.public_signals for p in proofs] == [s.public_signals() for s in statements]


def test_prove_many_hands_the_whole_batch_to_a_backend_that_has_prove_many(
    health4: CircuitArtifacts,
) -> None:
    statements = [holding(nonce=910 + i) for i in range(2)]
    with _BatchingBackend() as backend:
        proofs = prove_many(backend, [(health4, s.signals()) for s in statements])
    assert backend.batches == [2] and backend.singles == 0
    assert [p.public_signals for p in proofs] == [s.public_signals() for s in statements]


def test_prove_many_of_no_jobs_is_empty() -> None:
    with _CountingBackend() as backend:
        assert prove_many(backend, []) == []
