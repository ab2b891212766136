"""The portfolio commitment: Poseidon over the position vector, a salt and the account.

Mirrors circuits/PortfolioCommitment.circom:
    commitment = PoseidonChain(seed = Poseidon(account, salt), packed positions)
    packed_i   = collateral_i + debt_i · 2^QTY_BITS   (both magnitudes < 2^QTY_BITS)
A position is encoded as two non-negative magnitudes (long = collateral, short = debt), which
is the explicit signed encoding the circuits range-check.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from zkrisk.prover.hashing import poseidon_chain
from zkrisk.prover.poseidon import poseidon

from ..risk.fixed_point import QTY_BITS

SALT_BITS = 248  # ≥ 128 bits of entropy; < 254 so it is a field element


def new_salt() -> int:
    return secrets.randbits(SALT_BITS)


def pack_position(collateral: int, debt: int) -> int:
    for name, v in (("collateral", collateral), ("debt", debt)):
        if not 0 <= v < 1 << QTY_BITS:
            raise ValueError(f"{name}={v} outside [0, 2^{QTY_BITS}) in quantity fixed point")
    return collateral + (debt << QTY_BITS)


def account_to_int(account: str) -> int:
    """A 0x-prefixed 20-byte address as an integer (< 2^160)."""
    body = account[2:] if account[:2].lower() == "0x" else ""
    if len(body) != 40:
        raise ValueError(f"account {account!r} is not a 0x-prefixed 20-byte hex address")
    return int(body, 16)


def portfolio_commitment(
    account: int, salt: int, collateral: Sequence[int], debt: Sequence[int]
) -> int:
    if len(collateral) != len(debt) or not collateral:
        raise ValueError("collateral and debt must be non-empty and the same length")
    packed = [pack_position(c, d) for c, d in zip(collateral, debt, strict=True)]
    return poseidon_chain(poseidon([account, salt]), packed)
