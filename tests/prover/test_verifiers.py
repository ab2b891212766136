"""snarkjs and the pure-Python verifier accept a valid proof and reject the same tampers."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from itertools import count
from pathlib import Path

import pytest
from py_ecc.fields import optimized_bn128_FQ2 as FQ2
from py_ecc.optimized_bn128.optimized_curve import b2, curve_order, field_modulus, is_inf, multiply

from zkrisk.prover import pyverify, snarkjs_cli
from zkrisk.prover.artifacts import CircuitArtifacts
from zkrisk.prover.backends import ProvingBackend
from zkrisk.prover.field import SNARK_SCALAR_FIELD
from zkrisk.prover.proof import Proof

from .cases import holding

Verifier = Callable[[Path, Proof], bool]
VERIFIERS: dict[str, Verifier] = {"snarkjs": snarkjs_cli.verify, "python": pyverify.verify}


@pytest.fixture(scope="module")
def proof(health4: CircuitArtifacts, backends: dict[str, ProvingBackend]) -> Proof:
    return backends["native"].prove(health4, holding().signals())


def _with_signal(proof: Proof, index: int, value: int) -> Proof:
    signals = list(proof.public_signals)
    signals[index] = value
    return proof.with_public_signals(tuple(signals))


def _sqrt_fq2(a: FQ2) -> FQ2 | None:
    """A square root in F_p² (p ≡ 3 mod 4: Adj–Rodríguez-Henríquez, algorithm 9)."""
    p = field_modulus
    a1 = a ** ((p - 3) // 4)
    alpha = a1 * a1 * a
    minus_one = -FQ2.one()
    if alpha**p * alpha == minus_one:
        return None
    x0 = a1 * a
    root = FQ2([0, 1]) * x0 if alpha == minus_one else (alpha + FQ2.one()) ** ((p - 1) // 2) * x0
    return root if root * root == a else None


def _twist_point_outside_the_subgroup() -> tuple[tuple[int, int], tuple[int, int]]:
    for c0 in count(1):
        x = FQ2([c0, 0])
        y = _sqrt_fq2(x**3 + b2)
        if y is not None and not is_inf(multiply((x, y, FQ2.one()), curve_order)):
            (x0, x1), (y0, y1) = (int(c) for c in x.coeffs), (int(c) for c in y.coeffs)
            return (x0, x1), (y0, y1)
    raise AssertionError("unreachable")


TAMPERS: dict[str, Callable[[Proof], Proof]] = {
    "proof_is_tampered": lambda p: replace(p, c=p.a),
    "public_signal_is_tampered": lambda p: _with_signal(p, 2, p.public_signals[2] + 1),
    "public_signal_is_not_below_the_field_order": lambda p: _with_signal(
        p, 0, p.public_signals[0] + SNARK_SCALAR_FIELD
    ),
    "a_proof_point_is_off_the_curve": lambda p: replace(p, a=(p.a[0], p.a[1] + 1)),
    "b_is_on_the_twist_but_outside_the_g2_subgroup": lambda p: replace(
        p, b=_twist_point_outside_the_subgroup()
    ),
}


@pytest.mark.parametrize("verifier", VERIFIERS)
def test_verify_when_the_proof_is_valid_then_accepts(
    health4: CircuitArtifacts, proof: Proof, verifier: str
) -> None:
    assert VERIFIERS[verifier](health4.vkey, proof)


@pytest.mark.parametrize("tamper", TAMPERS)
@pytest.mark.parametrize("verifier", VERIFIERS)
def test_verify_when_tampered_then_rejects(
    health4: CircuitArtifacts, proof: Proof, verifier: str, tamper: str
) -> None:
    assert not VERIFIERS[verifier](health4.vkey, TAMPERS[tamper](proof))


def test_python_verify_when_a_coordinate_is_not_below_q_then_rejects(
    health4: CircuitArtifacts, proof: Proof
) -> None:
    # x + q is the same point modulo q: only the range check can catch it.
    assert not pyverify.verify(
        health4.vkey, replace(proof, a=(proof.a[0] + field_modulus, proof.a[1]))
    )


def test_python_verify_when_a_public_signal_is_missing_then_rejects(
    health4: CircuitArtifacts, proof: Proof
) -> None:
    assert not pyverify.verify(health4.vkey, proof.with_public_signals(proof.public_signals[:-1]))


def test_twist_point_used_above_is_on_the_curve_so_only_the_subgroup_check_rejects_it() -> None:
    x, y = _twist_point_outside_the_subgroup()
    with pytest.raises(pyverify.InvalidPoint, match="subgroup"):
        pyverify.g2_point(x, y)


def test_verifying_key_of_another_proof_system_is_refused(health4: CircuitArtifacts) -> None:
    data = {**json.loads(health4.vkey.read_text()), "protocol": "plonk"}
    with pytest.raises(ValueError, match="not a BN254 Groth16 verification key"):
        pyverify.VerifyingKey.from_snarkjs(data)
