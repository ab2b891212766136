"""The native backend: groth16py (arkworks, Rust) proves from a witness file.

groth16py imports the snarkjs .zkey itself (the same ceremony key, so its proofs verify under
the same verification key and Solidity verifier) and proves in one native call, on one core.
The witness comes from circom's C++ generator when it was built for the circuit, else from the
warm worker's WASM calculator. The imported proving key is cached per zkey.
"""

from __future__ import annotations

import importlib
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Unpack

from ..artifacts import CircuitArtifacts
from ..binfmt import read_wtns_public
from ..errors import BackendUnavailable, ProverError
from ..proof import Proof
from ..signals import Signals
from .witness_files import WitnessFileBackend, WitnessOptions

if TYPE_CHECKING:
    import groth16py

INSTALL_HINT = "pip install 'groth16py==0.2.0' (or `pip install -e .[native]`)"


def groth16py_missing() -> str | None:
    """Why the native backend cannot run here, or None when it can."""
    try:
        importlib.import_module("groth16py")
    except ImportError as exc:
        return f"groth16py is not installed ({exc}): {INSTALL_HINT}"
    return None


class NativeBackend(WitnessFileBackend):
    """groth16py proof from a C++ (`witness="cpp"`) or WASM (`"wasm"`) witness; `"auto"` picks
    the C++ generator when the circuit has one."""

    name = "native"

    def __init__(self, **options: Unpack[WitnessOptions]) -> None:
        missing = groth16py_missing()
        if missing:
            raise BackendUnavailable(missing)
        super().__init__(**options)
        self._groth16py = importlib.import_module("groth16py")
        self._keys: dict[tuple[Path, int, int], groth16py.ProvingKey] = {}

    def proving_key(self, zkey: Path) -> groth16py.ProvingKey:
        """The zkey imported by groth16py, cached per (path, mtime, size)."""
        stat = zkey.stat()
        key = (zkey.resolve(), stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if key not in self._keys:
                proving_key, _verifying_key = self._groth16py.import_zkey(str(zkey))
                self._keys[key] = proving_key
            return self._keys[key]

    def prove(self, artifacts: CircuitArtifacts, signals: Signals) -> Proof:
        proving_key = self.proving_key(artifacts.zkey)
        with tempfile.TemporaryDirectory(prefix="zkrisk-native-") as tmp:
            wtns = self.calculate_witness(artifacts, signals, Path(tmp) / "witness.wtns")
            # The Ethereum layout: uint256[8] big-endian words, pi_b already swapped.
            blob = self._groth16py.prove_wtns(proving_key, str(wtns))
            public = read_wtns_public(wtns, artifacts.compiled.info.n_public)
        if len(blob) != 256:
            raise ProverError(f"groth16py returned a {len(blob)}-byte proof, expected 256")
        return Proof.from_calldata_bytes(blob, list(public))

    def close(self) -> None:
        with self._lock:
            self._keys.clear()
        super().close()
