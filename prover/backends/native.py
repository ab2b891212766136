"""The native backend: groth16py (arkworks, Rust) proves from a witness file.

groth16py imports the snarkjs .zkey itself (the same ceremony key, so its proofs verify under
the same verification key and Solidity verifier) and proves in one native call. The witness
comes from circom's C++ generator when it was built for the circuit, else from the warm
worker's WASM calculator. The imported proving key is cached per zkey.
"""

from __future__ import annotations

import importlib
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .. import cpp_witness
from ..artifacts import CircuitArtifacts
from ..binfmt import read_wtns_public
from ..errors import BackendUnavailable, ProverError
from ..proof import Proof
from ..signals import Signals
from ..warm_worker import DEFAULT_THREADS, Threads, WarmWorker, WorkerRequestFailed
from ..witness_failure import witness_error
from .base import ProvingBackend
from .worker import request_error

if TYPE_CHECKING:
    import groth16py

WitnessSource = Literal["auto", "cpp", "wasm"]
INSTALL_HINT = "pip install 'groth16py==0.2.0' (or `pip install -e .[native]`)"


def groth16py_missing() -> str | None:
    """Why the native backend cannot run here, or None when it can."""
    try:
        importlib.import_module("groth16py")
    except ImportError as exc:
        return f"groth16py is not installed ({exc}): {INSTALL_HINT}"
    return None


class NativeBackend(ProvingBackend):
    """groth16py proof from a C++ (`witness="cpp"`) or WASM (`"wasm"`) witness; `"auto"` picks
    the C++ generator when the circuit has one."""

    name = "native"

    def __init__(
        self,
        *,
        witness: WitnessSource = "auto",
        worker: WarmWorker | None = None,
        threads: Threads = DEFAULT_THREADS,
    ) -> None:
        missing = groth16py_missing()
        if missing:
            raise BackendUnavailable(missing)
        self._groth16py = importlib.import_module("groth16py")
        self.witness_source = witness
        self._worker = worker  # a shared worker stays open on close(); one we start does not
        self._owns_worker = False
        self._threads = threads
        self._keys: dict[tuple[Path, int, int], groth16py.ProvingKey] = {}
        self._lock = threading.Lock()

    def proving_key(self, zkey: Path) -> groth16py.ProvingKey:
        """The zkey imported by groth16py, cached per (path, mtime, size)."""
        stat = zkey.stat()
        key = (zkey.resolve(), stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if key not in self._keys:
                proving_key, _verifying_key = self._groth16py.import_zkey(str(zkey))
                self._keys[key] = proving_key
            return self._keys[key]

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

    def prove(self, artifacts: CircuitArtifacts, signals: Signals) -> Proof:
        proving_key = self.proving_key(artifacts.zkey)
        with tempfile.TemporaryDirectory(prefix="zkrisk-native-") as tmp:
            wtns = self.calculate_witness(artifacts, signals, Path(tmp) / "witness.wtns")
            # The Ethereum layout: uint256[8] big-endian words, pi_b already swapped.
            blob = self._groth16py.prove_wtns(proving_key, str(wtns))
            public = read_wtns_public(wtns, artifacts.compiled.info.n_public)
        if len(blob) != 256:
            raise ProverError(f"groth16py returned a {len(blob)}-byte proof, expected 256")
        words = [int.from_bytes(blob[i : i + 32], "big") for i in range(0, 256, 32)]
        return Proof.from_calldata(words, list(public))

    def close(self) -> None:
        with self._lock:
            self._keys.clear()
            worker, owned = self._worker, self._owns_worker
            if owned:
                self._worker, self._owns_worker = None, False
        if worker is not None and owned:
            worker.close()
