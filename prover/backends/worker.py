"""The warm snarkjs worker backend: one long-lived Node process proves every request."""

from __future__ import annotations

from ..artifacts import CircuitArtifacts, CompiledCircuit
from ..errors import ProverError
from ..proof import Proof
from ..signals import Signals
from ..warm_worker import DEFAULT_THREADS, Threads, WarmWorker, WorkerRequestFailed
from ..witness_failure import witness_error
from .base import ProvingBackend


def request_error(compiled: CompiledCircuit, failed: WorkerRequestFailed) -> Exception:
    """The exception for a worker's error reply: WitnessError for bad inputs, else ProverError."""
    if failed.kind in ("input", "witness"):
        return witness_error(compiled, failed.message)
    return ProverError(f"{compiled.spec.name}: the prover worker failed: {failed.message}")


class WorkerBackend(ProvingBackend):
    """Witness by the circuit's WASM and proof by snarkjs, both inside the warm worker."""

    name = "worker"

    def __init__(self, worker: WarmWorker | None = None, *, threads: Threads = DEFAULT_THREADS):
        self.worker = worker if worker is not None else WarmWorker(threads=threads)
        self._owns_worker = worker is None

    def prove(self, artifacts: CircuitArtifacts, signals: Signals) -> Proof:
        try:
            reply = self.worker.prove(artifacts.compiled.wasm, artifacts.zkey, signals)
        except WorkerRequestFailed as failed:
            raise request_error(artifacts.compiled, failed) from None
        return Proof.from_snarkjs(reply["proof"], reply["publicSignals"])

    def close(self) -> None:
        if self._owns_worker:
            self.worker.close()
