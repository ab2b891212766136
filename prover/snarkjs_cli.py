"""The baseline backend: witness and proof through the snarkjs command line."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from .artifacts import CircuitArtifacts, CompiledCircuit
from .errors import WitnessError
from .proof import Proof
from .signals import Signals, signals_json
from .toolchain import ToolFailed, run_tool
from .witness_failure import witness_error

__all__ = ["Signals", "WitnessError", "calculate_witness", "prove", "prove_witness", "verify"]


def calculate_witness(compiled: CompiledCircuit, signals: Signals, out: Path) -> Path:
    """Write the witness (.wtns) for `signals`; raises WitnessError if a constraint fails."""
    inputs = out.with_suffix(".input.json")
    inputs.write_text(json.dumps(signals_json(signals)))
    try:
        run_tool("snarkjs", ["wtns", "calculate", str(compiled.wasm), str(inputs), str(out)])
    except ToolFailed as exc:
        raise witness_error(compiled, exc.stderr + exc.stdout) from None
    return out


def prove_witness(artifacts: CircuitArtifacts, wtns: Path) -> Proof:
    """Groth16 proof from a witness file (snarkjs groth16 prove)."""
    proof_path, public_path = wtns.with_suffix(".proof.json"), wtns.with_suffix(".public.json")
    run_tool(
        "snarkjs",
        ["groth16", "prove", str(artifacts.zkey), str(wtns), str(proof_path), str(public_path)],
    )
    return Proof.load(proof_path, public_path)


def prove(artifacts: CircuitArtifacts, signals: Signals) -> Proof:
    """Witness + proof through the snarkjs CLI."""
    with tempfile.TemporaryDirectory(prefix="zkrisk-prove-") as tmp:
        wtns = calculate_witness(artifacts.compiled, signals, Path(tmp) / "witness.wtns")
        return prove_witness(artifacts, wtns)


def verify(vkey: Path, proof: Proof) -> bool:
    """snarkjs groth16 verify; False for an invalid proof (snarkjs exits non-zero)."""
    with tempfile.TemporaryDirectory(prefix="zkrisk-verify-") as tmp:
        proof_path, public_path = Path(tmp) / "proof.json", Path(tmp) / "public.json"
        proof.save(proof_path, public_path)
        try:
            out = run_tool(
                "snarkjs", ["groth16", "verify", str(vkey), str(public_path), str(proof_path)]
            )
        except ToolFailed:
            return False
        return "OK" in out.stdout
