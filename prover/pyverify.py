"""A pure-Python Groth16 verifier over BN254 (py_ecc): for a counterparty with only Python.

It reads snarkjs' verification_key.json and checks

    e(-A, B) · e(vk_x, γ) · e(C, δ) · e(α, β) = 1,   vk_x = IC₀ + Σ sᵢ·ICᵢ

with one final exponentiation over the product of Miller loops. Before any pairing it rejects
what the Solidity verifier and snarkjs reject: a wrong number of public signals, a public signal
≥ r, a coordinate ≥ q, a point off its curve, and (beyond snarkjs, which checks only the curve
equation) a B outside the order-r subgroup of G2. A check takes about half a second.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeAlias

# Imported from the defining modules: py_ecc's package __init__ does not re-export for mypy.
from py_ecc.fields import optimized_bn128_FQ as FQ
from py_ecc.fields import optimized_bn128_FQ2 as FQ2
from py_ecc.fields import optimized_bn128_FQ12 as FQ12
from py_ecc.optimized_bn128.optimized_curve import (
    add,
    b,
    b2,
    curve_order,
    field_modulus,
    is_inf,
    is_on_curve,
    multiply,
    neg,
)
from py_ecc.optimized_bn128.optimized_pairing import final_exponentiate, pairing

from .field import SNARK_SCALAR_FIELD
from .proof import Proof

G1Point: TypeAlias = tuple[FQ, FQ, FQ]  # Jacobian, as py_ecc.optimized_bn128 keeps them
G2Point: TypeAlias = tuple[FQ2, FQ2, FQ2]
_G1_INFINITY: G1Point = (FQ(1), FQ(1), FQ(0))
_G2_INFINITY: G2Point = (FQ2([1, 0]), FQ2([1, 0]), FQ2([0, 0]))

assert curve_order == SNARK_SCALAR_FIELD  # py_ecc's r is the circuits' field


class InvalidPoint(ValueError):
    """A coordinate is not a field element, or the point is off its curve or subgroup."""


def _fq(value: int) -> FQ:
    if not 0 <= value < field_modulus:
        raise InvalidPoint(f"coordinate {value} is not below the base field modulus q")
    return FQ(value)


def g1_point(x: int, y: int) -> G1Point:
    """An affine G1 point; (0, 0) is the point at infinity, as on the EVM."""
    if x == 0 and y == 0:
        return _G1_INFINITY
    point = (_fq(x), _fq(y), FQ(1))
    if not is_on_curve(point, b):
        raise InvalidPoint(f"({x}, {y}) is not on BN254's G1 curve y² = x³ + 3")
    return point  # G1 has cofactor 1: on the curve means in the group


def g2_point(x: tuple[int, int], y: tuple[int, int]) -> G2Point:
    """An affine G2 point from snarkjs' (c0, c1) coordinate pairs; all zeros is infinity."""
    if x == (0, 0) and y == (0, 0):
        return _G2_INFINITY
    for c in (*x, *y):
        _fq(c)
    point = (FQ2(list(x)), FQ2(list(y)), FQ2([1, 0]))
    if not is_on_curve(point, b2):
        raise InvalidPoint("B is not on BN254's twisted G2 curve")
    # The twist has a large cofactor: check the point has order r (not just the curve equation).
    if not is_inf(multiply(point, curve_order)):
        raise InvalidPoint("B is on the G2 curve but not in its order-r subgroup")
    return point


def _g1_json(value: list[str]) -> G1Point:
    if value[2] == "0":
        return _G1_INFINITY
    return g1_point(int(value[0]), int(value[1]))


def _g2_json(value: list[list[str]]) -> G2Point:
    if value[2] == ["0", "0"]:
        return _G2_INFINITY
    return g2_point((int(value[0][0]), int(value[0][1])), (int(value[1][0]), int(value[1][1])))


@dataclass(frozen=True, eq=False)
class VerifyingKey:
    """A Groth16 verification key (snarkjs `verification_key.json`, BN254)."""

    alpha1: G1Point
    beta2: G2Point
    gamma2: G2Point
    delta2: G2Point
    ic: tuple[G1Point, ...]  # one more than the number of public signals
    #: e(α, β)⁻¹, the same for every proof under this key: computed once here.
    alpha_beta_inverse: FQ12 = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "alpha_beta_inverse", pairing(self.beta2, self.alpha1).inv())

    @property
    def n_public(self) -> int:
        return len(self.ic) - 1

    @classmethod
    def from_snarkjs(cls, data: dict[str, Any]) -> VerifyingKey:
        if data.get("protocol") != "groth16" or data.get("curve") not in ("bn128", "bn254"):
            raise ValueError(
                f"not a BN254 Groth16 verification key (protocol={data.get('protocol')!r}, "
                f"curve={data.get('curve')!r}): export one with `snarkjs zkey export "
                "verificationkey`"
            )
        try:
            key = cls(
                alpha1=_g1_json(data["vk_alpha_1"]),
                beta2=_g2_json(data["vk_beta_2"]),
                gamma2=_g2_json(data["vk_gamma_2"]),
                delta2=_g2_json(data["vk_delta_2"]),
                ic=tuple(_g1_json(p) for p in data["IC"]),
            )
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed verification key: {exc}") from None
        if key.n_public != int(data.get("nPublic", key.n_public)):
            raise ValueError(f"verification key: nPublic={data['nPublic']} but {len(key.ic)} IC")
        return key

    @classmethod
    def load(cls, path: Path) -> VerifyingKey:
        return cls.from_snarkjs(json.loads(path.read_text()))


@cache
def _load_cached(path: Path, mtime_ns: int) -> VerifyingKey:
    return VerifyingKey.load(path)


def _public_input_point(key: VerifyingKey, public: tuple[int, ...]) -> G1Point:
    acc = key.ic[0]
    for point, signal in zip(key.ic[1:], public, strict=True):
        if signal:
            acc = add(acc, multiply(point, signal))
    return acc


def verify(vkey: VerifyingKey | Path, proof: Proof) -> bool:
    """True when `proof` is valid for its public signals under `vkey`; False for anything else.

    A malformed proof (bad point, out-of-field value, wrong signal count) is invalid, not an
    error; a malformed verification key raises ValueError.
    """
    key = vkey if isinstance(vkey, VerifyingKey) else _load_cached(vkey, vkey.stat().st_mtime_ns)
    public = proof.public_signals
    if len(public) != key.n_public:
        return False
    if not all(0 <= s < SNARK_SCALAR_FIELD for s in public):
        return False  # s and s + r would both pass the pairing: reject, as the contract does
    try:
        a = g1_point(*proof.a)
        b_point = g2_point(*proof.b)
        c = g1_point(*proof.c)
    except InvalidPoint:
        return False
    vk_x = _public_input_point(key, public)
    product = (
        pairing(b_point, neg(a), final_exponentiate=False)
        * pairing(key.gamma2, vk_x, final_exponentiate=False)
        * pairing(key.delta2, c, final_exponentiate=False)
    )
    return bool(final_exponentiate(product) == key.alpha_beta_inverse)
