"""The BN254 scalar field: the numbers a circom circuit and the Groth16 verifier work in."""

from __future__ import annotations

#: r, the order of BN254's scalar field (circom's `p`, Solidity verifiers' `r`).
SNARK_SCALAR_FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617


def is_field_element(value: int) -> bool:
    """True when `value` is a canonical field element (0 ≤ value < r)."""
    return 0 <= value < SNARK_SCALAR_FIELD


def require_field_element(value: int, name: str) -> int:
    if not is_field_element(value):
        raise ValueError(
            f"{name}={value} is not a BN254 field element (0 ≤ x < r); reduce it mod r or "
            "choose a smaller encoding"
        )
    return value
