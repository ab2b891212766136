"""The multicore backend: zkrisk's own Groth16 prover (prover/multicore_rs, Rust) on every core.

groth16py proves on one core; this prover follows snarkjs's groth16_prove.js step for step
(the same .zkey, so the same verification key and Solidity verifier) and spreads its FFTs and
multi-scalar multiplications over the machine's cores: PortfolioMargin(16, 32) in about half
the time on two. One `zkrisk-groth16 serve` process per backend keeps the parsed keys warm;
the witness comes from circom's C++ generator or the warm WASM worker, as for `native`.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Unpack

from .. import multicore_binary
from ..artifacts import CircuitArtifacts
from ..binfmt import read_wtns_public
from ..errors import BackendUnavailable, ProverError
from ..proof import Proof
from ..signals import Signals
from .witness_files import WitnessFileBackend, WitnessOptions


class MulticoreBackend(WitnessFileBackend):
    """Witness file (C++ or WASM) → `zkrisk-groth16 serve` on `prover_threads` cores (default:
    all of them)."""

    name = "multicore"

    def __init__(
        self, *, prover_threads: int | None = None, **options: Unpack[WitnessOptions]
    ) -> None:
        reason = multicore_binary.missing()
        if reason is not None:
            raise BackendUnavailable(reason)
        if prover_threads is not None and prover_threads < 1:
            raise ValueError(f"prover_threads must be >= 1, got {prover_threads}")
        super().__init__(**options)
        self.prover_threads = prover_threads
        self._server: subprocess.Popen[str] | None = None

    def _serve(self) -> subprocess.Popen[str]:
        if self._server is None or self._server.poll() is not None:
            argv = [str(multicore_binary.ensure_binary()), "serve"]
            if self.prover_threads is not None:
                argv += ["--threads", str(self.prover_threads)]
            self._server = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                text=True, bufsize=1,
            )  # fmt: skip
        return self._server

    def _request(self, zkey: Path, wtns: Path) -> str:
        if any(c in str(zkey) + str(wtns) for c in "\t\n"):
            raise ProverError(f"{zkey}: a path with a tab or newline cannot be sent to the prover")
        with self._lock:
            server = self._serve()
            stdin, stdout = server.stdin, server.stdout
            assert stdin is not None and stdout is not None
            try:
                stdin.write(f"prove\t{zkey}\t{wtns}\n")
                stdin.flush()
                reply = stdout.readline()
            except (BrokenPipeError, OSError):
                reply = ""
        if not reply:
            code = server.wait(timeout=5)
            raise ProverError(f"the multicore prover exited ({code}) before answering")
        status, _, body = reply.rstrip("\n").partition("\t")
        if status != "ok":
            raise ProverError(f"the multicore prover refused {zkey.name}: {body}")
        return body

    def prove(self, artifacts: CircuitArtifacts, signals: Signals) -> Proof:
        with tempfile.TemporaryDirectory(prefix="zkrisk-multicore-") as tmp:
            wtns = self.calculate_witness(artifacts, signals, Path(tmp) / "witness.wtns")
            proof_hex = self._request(artifacts.zkey.resolve(), wtns)
            public = read_wtns_public(wtns, artifacts.compiled.info.n_public)
        try:
            blob = bytes.fromhex(proof_hex)
        except ValueError:
            blob = b""
        if len(blob) != 256:
            raise ProverError(f"the multicore prover returned {len(blob)} bytes, expected 256")
        return Proof.from_calldata_bytes(blob, list(public))

    def close(self) -> None:
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            if server.stdin is not None:
                server.stdin.close()  # end of requests: the server exits
            try:
                server.wait(timeout=5)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            if server.stdout is not None:
                server.stdout.close()
        super().close()
