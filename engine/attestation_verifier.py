"""Verify an attestation bundle against the verifier's own statement.

A proof only says that *its* public signals satisfy the circuit. A counterparty relies on a
statement it chose itself — its limits, its prices, its scenario set, the commitment it knows —
so `verify_attestation` accepts a bundle only when

1. the bundle is for the expected circuit and for the verification key the verifier trusts
   (by sha256 of its canonical JSON),
2. every public signal equals the one recomputed from the expectation (each mismatch is named
   by the expectation's field: `limits.leverage_bps`, `prices.WETH`, `scenarios`, …), and
3. the Groth16 proof verifies under the verifier's key with those signals.

The bundle's `statement` section is the prover's claim and is never consulted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from zkrisk.prover import pyverify, snarkjs_cli
from zkrisk.prover.artifacts import build

from .attestation_bundle import AttestationBundle, CircuitId, load_bundle, vkey_sha256
from .expectation import Expectation, ExpectedStatement, expected_statement, load_expectation
from .paths import repo_root
from .proof_kinds import Verifier as Verifier
from .risk.fixed_point import BPS_BITS
from .signal_fields import Signal, field_of, reads, threshold_mode_fields
from .statements.health import HealthMode


@dataclass(frozen=True)
class Mismatch:
    """One field of the expectation that the proof does not prove."""

    field: str
    expected: str
    proven: str

    def __str__(self) -> str:
        return f"{self.field}: you expect {self.expected}, the proof is for {self.proven}"


@dataclass(frozen=True)
class VerificationResult:
    """The verdict on a bundle: accepted only with no mismatch and a valid proof."""

    mismatches: tuple[Mismatch, ...]
    proof_valid: bool | None  # None: not checked, a field already differs
    circuit: str
    dev_ptau: bool
    seconds: float

    @property
    def accepted(self) -> bool:
        return not self.mismatches and self.proof_valid is True

    @property
    def fields(self) -> tuple[str, ...]:
        """The mismatched fields, by name."""
        return tuple(m.field for m in self.mismatches)

    def reasons(self) -> list[str]:
        """Why the bundle is refused (empty when accepted)."""
        lines = [str(m) for m in self.mismatches]
        if self.proof_valid is False:
            lines.append(
                f"proof: the Groth16 proof does not verify for {self.circuit} with your "
                "statement's public signals (a forged or tampered proof or public signal)"
            )
        return lines


def signal_mismatches(expected: ExpectedStatement, proven: tuple[int, ...]) -> tuple[Mismatch, ...]:
    """Every expectation field whose public signals differ from the proof's, in signal order."""
    if len(proven) != len(expected.signals):
        return (
            Mismatch(
                "public_signals",
                f"{len(expected.signals)} signals ({expected.spec.name})",
                f"{len(proven)} signals",
            ),
        )
    out: list[Mismatch] = []
    differing = [(s, p) for s, p in zip(expected.signals, proven, strict=True) if s.value != p]
    returns = [(s, p) for s, p in differing if s.input == "returns"]
    for signal, value in differing:
        if signal.input == "thresholdMode":
            out += [_threshold_mode(name, signal, value) for name in
                    threshold_mode_fields(signal.value, value)]  # fmt: skip
        elif signal.input != "returns":
            out.append(Mismatch(field_of(signal, expected.symbols), reads(signal, signal.value),
                                reads(signal, value)))  # fmt: skip
    if returns:
        total = sum(1 for s in expected.signals if s.input == "returns")
        out.append(Mismatch("scenarios", f"your scenario set (sha256 {expected.scenarios_sha256})",
                            f"another one ({len(returns)} of {total} public returns differ)"))  # fmt: skip
    return tuple(out)


def _threshold_mode(name: str, signal: Signal, proven: int) -> Mismatch:
    """Health packs threshold (low 16 bits) and mode (above) into one signal: name the half."""

    def show(v: int) -> str:
        if name == "health.mode":
            mode = v >> BPS_BITS
            return HealthMode(mode).name if mode in (0, 1) else str(mode)
        return str(v & ((1 << BPS_BITS) - 1))

    return Mismatch(name, show(signal.value), show(proven))


def _local_key(expectation: Expectation, expected: ExpectedStatement) -> tuple[Path, bool]:
    """The verification key the verifier trusts, and whether it comes from a dev ptau."""
    if expectation.verification_key is not None:
        if not expectation.verification_key.is_file():
            raise ValueError(f"verification_key: {expectation.verification_key}: file not found")
        return expectation.verification_key, False
    artifacts = build(expected.spec, repo_root(), log=lambda _line: None)
    return artifacts.vkey, artifacts.dev_ptau


def _key_mismatches(
    bundle: AttestationBundle, expected: ExpectedStatement, vkey: Path
) -> list[Mismatch]:
    want = CircuitId.of(expected.spec)
    if bundle.circuit != want:
        return [Mismatch("circuit", _circuit(want), _circuit(bundle.circuit))]
    key_hash = vkey_sha256(vkey)
    if bundle.vkey_sha256 != key_hash:
        return [Mismatch("verification_key", f"sha256 {key_hash} (your key)",
                         f"sha256 {bundle.vkey_sha256} (another setup)")]  # fmt: skip
    return []


def verify_attestation(
    bundle: AttestationBundle | str | Path,
    expected: Expectation | str | Path,
    *,
    verifier: Verifier = "python",
) -> VerificationResult:
    """Check `bundle` against the verifier's own `expected` statement (objects or file paths).

    Raises InputError / ValueError for unreadable input; a bundle that proves anything other
    than the expectation is a result with `accepted == False` naming every differing field.
    """
    if not isinstance(bundle, AttestationBundle):
        bundle = load_bundle(bundle)
    expectation = expected if isinstance(expected, Expectation) else load_expectation(expected)
    started = time.perf_counter()
    statement = expected_statement(expectation)
    vkey, dev = _local_key(expectation, statement)
    mismatches = _key_mismatches(bundle, statement, vkey)
    if not any(m.field == "circuit" for m in mismatches):  # another circuit's signals mean nothing
        mismatches += signal_mismatches(statement, bundle.signals())
    valid: bool | None = None
    if not mismatches:
        proof = bundle.groth16().with_public_signals(tuple(s.value for s in statement.signals))
        valid = pyverify.verify(vkey, proof) if verifier == "python" else \
            snarkjs_cli.verify(vkey, proof)  # fmt: skip
    return VerificationResult(
        mismatches=tuple(mismatches),
        proof_valid=valid,
        circuit=statement.spec.name,
        dev_ptau=dev or bundle.dev_ptau,
        seconds=time.perf_counter() - started,
    )


def _circuit(c: CircuitId) -> str:
    return f"{c.name} ({c.template}{list(c.params)})"
