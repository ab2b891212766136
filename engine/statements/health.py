"""The health statement (circuits/Health.circom): HF ≥ threshold, or HF < threshold to liquidate.

`HealthStatement` holds every number the circuit sees, in fixed point. `signals()` is the
circuit input, `public_signals()` the ordered public inputs the verifier and the vault see, and
`holds()` the engine's verdict — the circuit must accept exactly when `holds()` is True.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache

from ..risk.fixed_point import BINDING_BITS, BPS_BITS, QTY_BITS
from ..risk.models import Asset, Portfolio, PriceSnapshot
from .book_slots import book_slots, slot_prices
from .commitment import portfolio_commitment
from .snapshot import snapshot_hash

PUBLIC_SIGNALS = ("commitment", "snapshotHash", "margin", "thresholdMode", "binding")


# Poseidon in Python costs ms per hash and a keeper hashes each statement several times (its
# checks, its signals, the result's check) while a storm's provers want the cores: both hashes
# are pure functions of tuples, so each book and each snapshot is hashed once.
_commitment = lru_cache(maxsize=4096)(portfolio_commitment)
_snapshot_hash = lru_cache(maxsize=256)(snapshot_hash)


class HealthMode(IntEnum):
    AT_LEAST = 0  # HF ≥ threshold: withdraw, commitment update
    BELOW = 1  # HF < threshold: liquidation


@dataclass(frozen=True)
class HealthStatement:
    """All inputs of Health(N), as integers in the engine's fixed point."""

    account: int
    salt: int
    snapshot_id: int
    collateral: tuple[int, ...]  # QTY fixed point, per slot; slot 0 is the margin asset
    debt: tuple[int, ...]
    price: tuple[int, ...]  # PRICE fixed point
    lt: tuple[int, ...]  # liquidation threshold, bps
    margin: int  # escrowed margin after the action, QTY fixed point (asset of slot 0)
    threshold_bps: int
    mode: HealthMode
    binding: int

    def __post_init__(self) -> None:
        # thresholdMode packs threshold + mode·2^BPS_BITS: a threshold ≥ 2^BPS_BITS would carry
        # into the mode bit ("HF ≥ 7" with 70,000 bps would prove "HF < 0.45"), so refuse it here.
        if not 0 <= self.threshold_bps < 1 << BPS_BITS:
            raise ValueError(
                f"threshold {self.threshold_bps} bps outside [0, 2^{BPS_BITS}): thresholdMode packs "
                f"threshold + mode·2^{BPS_BITS}, so a larger threshold would flip the mode bit. "
                f"Health thresholds go up to {(1 << BPS_BITS) - 1} bps (HF 6.5535)"
            )
        if not 0 <= self.binding < 1 << BINDING_BITS:
            raise ValueError(
                f"binding {self.binding} outside [0, 2^{BINDING_BITS}): Health range-checks it; "
                "derive it with zkrisk.engine.statements.binding.action_binding (keccak mod 2^252)"
            )

    @property
    def slots(self) -> int:
        return len(self.collateral)

    def weighted_collateral(self) -> int:
        """Σ collateral·price·lt + margin·price_0·lt_0 (value × bps)."""
        book = sum(
            c * p * lt for c, p, lt in zip(self.collateral, self.price, self.lt, strict=True)
        )
        return book + self.margin * self.price[0] * self.lt[0]

    def debt_value(self) -> int:
        return sum(d * p for d, p in zip(self.debt, self.price, strict=True))

    def holds(self) -> bool:
        """The engine's verdict: exact integer comparison, no division."""
        healthy = self.weighted_collateral() >= self.threshold_bps * self.debt_value()
        return healthy if self.mode is HealthMode.AT_LEAST else not healthy

    def commitment(self) -> int:
        return _commitment(self.account, self.salt, tuple(self.collateral), tuple(self.debt))

    def snapshot_hash(self) -> int:
        return _snapshot_hash(self.snapshot_id, tuple(self.price), tuple(self.lt))

    def threshold_mode(self) -> int:
        """threshold_bps + mode·2^BPS_BITS (the range was checked on construction)."""
        return self.threshold_bps + (int(self.mode) << BPS_BITS)

    def public_signals(self) -> tuple[int, ...]:
        return (
            self.commitment(),
            self.snapshot_hash(),
            self.margin,
            self.threshold_mode(),
            self.binding,
        )

    def signals(self) -> dict[str, int | list[int]]:
        if not 0 <= self.margin < 1 << QTY_BITS:
            raise ValueError(
                f"margin {self.margin} outside [0, 2^{QTY_BITS}) in quantity fixed point"
            )
        public = dict(zip(PUBLIC_SIGNALS, self.public_signals(), strict=True))
        return {
            **public,
            "account": self.account,
            "salt": self.salt,
            "snapshotId": self.snapshot_id,
            "collateral": list(self.collateral),
            "debt": list(self.debt),
            "price": list(self.price),
            "lt": list(self.lt),
        }


def health_statement(
    portfolio: Portfolio,
    snapshot: PriceSnapshot,
    assets: Sequence[Asset],
    *,
    slots: int,
    salt: int,
    threshold_bps: int,
    mode: HealthMode,
    binding: int,
) -> HealthStatement:
    """Lay a portfolio out on the circuit's `slots` asset slots (slot i = assets[i]).

    Slot 0 is the vault's margin asset. Every position must be in `assets` and every asset must
    have a price in the snapshot: missing data is an error, never a zero.
    """
    symbols = [a.symbol for a in assets]
    book = book_slots(portfolio, symbols, slots=slots, salt=salt)
    pad = slots - len(assets)
    return HealthStatement(
        account=book.account,
        salt=salt,
        snapshot_id=snapshot.snapshot_id,
        collateral=book.long,
        debt=book.short,
        price=slot_prices(snapshot, symbols, slots=slots),
        lt=tuple(a.liquidation_threshold_bps for a in assets) + (0,) * pad,
        margin=portfolio.margin_fixed,
        threshold_bps=threshold_bps,
        mode=mode,
        binding=binding,
    )
