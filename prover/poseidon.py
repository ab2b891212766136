"""Poseidon over BN254, equal to circomlib's `Poseidon(n)` template and circomlibjs' `poseidon`.

Constants are circomlib's (vendored in data/poseidon_bn254.json); rounds follow the reference:
8 full rounds and N_ROUNDS_P[t-2] partial rounds, S-box x^5, state[0] initialised to 0.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from .field import SNARK_SCALAR_FIELD, require_field_element

N_ROUNDS_F = 8
N_ROUNDS_P = (56, 57, 56, 60, 60, 63, 64, 63, 60, 66, 60, 65, 70, 60, 64, 68)
_CONSTANTS_FILE = Path(__file__).resolve().parent / "data" / "poseidon_bn254.json"


@cache
def _constants() -> tuple[int, list[list[int]], list[list[list[int]]]]:
    data = json.loads(_CONSTANTS_FILE.read_text())
    rc = [[int(x, 16) for x in row] for row in data["C"]]
    mds = [[[int(x, 16) for x in row] for row in matrix] for matrix in data["M"]]
    return int(data["max_inputs"]), rc, mds


def max_inputs() -> int:
    return _constants()[0]


def poseidon(inputs: Sequence[int]) -> int:
    """Poseidon hash of 1..max_inputs() field elements."""
    limit, rc_all, mds_all = _constants()
    if not 1 <= len(inputs) <= limit:
        raise ValueError(f"poseidon takes 1..{limit} inputs, got {len(inputs)}")
    p = SNARK_SCALAR_FIELD
    t = len(inputs) + 1
    rc, mds = rc_all[t - 2], mds_all[t - 2]
    n_partial = N_ROUNDS_P[t - 2]
    state = [
        0,
        *(require_field_element(int(x), f"poseidon input {i}") for i, x in enumerate(inputs)),
    ]
    half = N_ROUNDS_F // 2
    for r in range(N_ROUNDS_F + n_partial):
        state = [(a + rc[r * t + i]) % p for i, a in enumerate(state)]
        if r < half or r >= half + n_partial:
            state = [pow(a, 5, p) for a in state]
        else:
            state[0] = pow(state[0], 5, p)
        state = [sum(m * a for m, a in zip(row, state, strict=True)) % p for row in mds]
    return state[0]
