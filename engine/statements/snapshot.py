"""The price-snapshot hash: one public input naming prices and liquidation thresholds.

Mirrors circuits/SnapshotHash.circom (and the vault's on-chain computation):
    slot_i = price_i + lt_i · 2^PRICE_BITS
    word_j = slot_{3j} + slot_{3j+1} · 2^80 + slot_{3j+2} · 2^160
    hash   = PoseidonChain(seed = snapshot_id, words)
"""

from __future__ import annotations

from collections.abc import Sequence

from zkrisk.prover.hashing import poseidon_chain

from ..risk.fixed_point import BPS_BITS, PRICE_BITS, SNAPSHOT_ID_BITS

SLOT_BITS = PRICE_BITS + BPS_BITS
SLOTS_PER_WORD = 3


def snapshot_words(prices: Sequence[int], lts: Sequence[int]) -> list[int]:
    if len(prices) != len(lts) or not prices:
        raise ValueError("prices and liquidation thresholds must be non-empty and the same length")
    words = [0] * ((len(prices) + SLOTS_PER_WORD - 1) // SLOTS_PER_WORD)
    for i, (price, lt) in enumerate(zip(prices, lts, strict=True)):
        if not 0 <= price < 1 << PRICE_BITS:
            raise ValueError(f"price[{i}]={price} outside [0, 2^{PRICE_BITS}) in price fixed point")
        if not 0 <= lt < 1 << BPS_BITS:
            raise ValueError(f"liquidation threshold[{i}]={lt} outside [0, 2^{BPS_BITS}) bps")
        words[i // SLOTS_PER_WORD] += (price + (lt << PRICE_BITS)) << (
            SLOT_BITS * (i % SLOTS_PER_WORD)
        )
    return words


def snapshot_hash(snapshot_id: int, prices: Sequence[int], lts: Sequence[int]) -> int:
    if not 0 <= snapshot_id < 1 << SNAPSHOT_ID_BITS:
        raise ValueError(f"snapshot id {snapshot_id} outside [0, 2^{SNAPSHOT_ID_BITS})")
    return poseidon_chain(snapshot_id, snapshot_words(prices, lts))
