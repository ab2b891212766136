"""Hash helpers shared by circuits and their Python mirrors (generic, not risk-specific)."""

from __future__ import annotations

from collections.abc import Sequence

from .poseidon import poseidon

CHAIN_ARITY = 4


def poseidon_chain(seed: int, values: Sequence[int]) -> int:
    """Mirror of circuits/PoseidonChain.circom: fold `values` four at a time into `seed`.

    acc_0 = seed; acc_{k+1} = Poseidon(acc_k, v[4k], …, v[4k+3]) with zero padding.
    """
    if not values:
        raise ValueError("poseidon_chain needs at least one value")
    acc = seed
    for start in range(0, len(values), CHAIN_ARITY):
        chunk = list(values[start : start + CHAIN_ARITY])
        chunk += [0] * (CHAIN_ARITY - len(chunk))
        acc = poseidon([acc, *chunk])
    return acc
