"""What the backends that prove from a .wtns file share: the witness, from circom's C++
generator when it was built for the circuit, else from the warm worker's WASM calculator."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Literal, TypedDict

from .. import cpp_witness
from ..artifacts import CircuitArtifacts
from ..errors import BackendUnavailable
from ..signals import Signals
from ..warm_worker import DEFAULT_THREADS, Threads, WarmWorker, WorkerRequestFailed
from ..witness_failure import witness_error
from .base import ProvingBackend
from .worker import request_error

WitnessSource = Literal["auto", "cpp", "wasm"]


class WitnessOptions(TypedDict, total=False):
    """How a witness-file backend gets its witness (the keywords of its constructor)."""

    witness: WitnessSource
    worker: WarmWorker | None
    threads: Threads


class WitnessFileBackend(ProvingBackend):
    """A backend whose prover reads a witness file; `witness` picks its calculator ("auto": the
    C++ generator when the circuit has one)."""

    def __init__(
        self,
        *,
        witness: WitnessSource = "auto",
        worker: WarmWorker | None = None,
        threads: Threads = DEFAULT_THREADS,
    ) -> None:
        self.witness_source = witness
        self._worker = worker  # a shared worker stays open on close(); one we start does not
        self._owns_worker = False
        self._threads = threads
        self._lock = threading.Lock()

    def _wasm_worker(self) -> WarmWorker:
        with self._lock:
            if self._worker is None:
                self._worker, self._owns_worker = WarmWorker(threads=self._threads), True
            return self._worker

    def calculate_witness(self, artifacts: CircuitArtifacts, signals: Signals, out: Path) -> Path:
        """Write the witness to `out` with the configured calculator; WitnessError if it fails."""
        compiled = artifacts.compiled
        binary = compiled.witness_binary if self.witness_source != "wasm" else None
        if binary is not None:
            try:
                return cpp_witness.calculate(binary, signals, out)
            except cpp_witness.CppWitnessFailed as failed:
                raise witness_error(compiled, failed.output) from None
        if self.witness_source == "cpp":
            raise BackendUnavailable(
                f"{compiled.spec.name} has no C++ witness generator: build it with "
                f"build(..., cpp=True) (needs `{cpp_witness.INSTALL_HINT}`) or use witness='auto'"
            )
        try:
            return self._wasm_worker().witness(compiled.wasm, signals, out)
        except WorkerRequestFailed as failed:
            raise request_error(compiled, failed) from None

    def close(self) -> None:
        with self._lock:
            worker, owned = self._worker, self._owns_worker
            if owned:
                self._worker, self._owns_worker = None, False
        if worker is not None and owned:
            worker.close()
