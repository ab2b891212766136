"""Accept a proof from the pool only if it proves the statement that was asked for.

Anyone who can publish on the pool's subjects can write a result, so a result is untrusted
input: it must verify under the client's own verification key, and its public inputs must be
the ones in the client's own signals (the circuit's outputs, which the client cannot know
without a witness, are bound by the proof to those inputs).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from .. import pyverify
from ..artifacts import CircuitArtifacts
from ..proof import Proof
from ..signals import Signals, SignalValue

_NAME = re.compile(r"^main\.([A-Za-z_$][\w$]*)((?:\[\d+\])*)$")


@cache
def _public_names(sym: Path, mtime_ns: int, n_public: int) -> tuple[str, ...]:
    """Names of witness signals 1..n_public (outputs first, then public inputs), from .sym."""
    names: dict[int, str] = {}
    with sym.open() as f:
        for line in f:
            _label, witness, _component, name = line.rstrip("\n").split(",", 3)
            index = int(witness)
            if 1 <= index <= n_public:
                names[index] = name
            if len(names) == n_public:
                break
    return tuple(names[i] for i in range(1, n_public + 1))


def _lookup(signals: Signals, name: str) -> int | None:
    """The value `signals` gives the public signal `main.x[i][j]`, or None if not an input."""
    match = _NAME.match(name)
    if match is None or match.group(1) not in signals:
        return None
    value: SignalValue = signals[match.group(1)]
    for index in re.findall(r"\[(\d+)\]", match.group(2)):
        if isinstance(value, int) or not isinstance(value, Sequence):
            return None
        value = value[int(index)]
    return value if isinstance(value, int) else None


def expected_public_inputs(artifacts: CircuitArtifacts, signals: Signals) -> dict[int, int]:
    """{position in the public signals: value} for every public signal that is an input."""
    compiled = artifacts.compiled
    sym = compiled.sym
    names = _public_names(sym, sym.stat().st_mtime_ns, compiled.info.n_public)
    expected = {}
    for position, name in enumerate(names):
        value = _lookup(signals, name)
        if value is not None:
            expected[position] = value
    return expected


@cache
def _native_verifier(vkey: Path, mtime_ns: int) -> Any:
    groth16py = importlib.import_module("groth16py")
    return groth16py.Verifier(groth16py.VerifyingKey.from_snarkjs_file(str(vkey)))


def proof_verifies(vkey: Path, proof: Proof) -> bool:
    """The Groth16 check under `vkey`: groth16py's (ms) when installed, else pure Python (~1 s)."""
    try:
        verifier = _native_verifier(vkey, vkey.stat().st_mtime_ns)
    except ImportError:
        return pyverify.verify(vkey, proof)
    words, public = proof.calldata()
    try:
        blob = b"".join(w.to_bytes(32, "big") for w in words)
        return bool(verifier.verify(blob, public))
    except Exception:  # a malformed point or word is an invalid proof, not a crash
        return False


def rejection(artifacts: CircuitArtifacts, signals: Signals, proof: Proof) -> str | None:
    """Why `proof` is not a proof of (artifacts, signals), or None when it is."""
    n_public = artifacts.compiled.info.n_public
    if len(proof.public_signals) != n_public:
        return f"{len(proof.public_signals)} public signals, the circuit has {n_public}"
    for position, value in expected_public_inputs(artifacts, signals).items():
        if proof.public_signals[position] != value:
            return f"public signal {position} is {proof.public_signals[position]}, expected {value}"
    if not proof_verifies(artifacts.vkey, proof):
        return "the proof does not verify under the verification key"
    return None
