"""Plain data shared by the vault client, its deployment and the dev scenario."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..models import Asset


@dataclass(frozen=True)
class VaultPolicy:
    """RiskVault.Policy (see its NatSpec); seconds and bps."""

    min_health_bps: int
    close_factor_bps: int
    liquidation_bonus_bps: int
    max_price_age: int
    max_proof_age: int
    liquidation_cooldown: int

    def as_tuple(self) -> tuple[int, int, int, int, int, int]:
        """The Solidity struct, in field order."""
        return (
            self.min_health_bps,
            self.close_factor_bps,
            self.liquidation_bonus_bps,
            self.max_price_age,
            self.max_proof_age,
            self.liquidation_cooldown,
        )

    @classmethod
    def from_tuple(cls, values: tuple[int, ...] | list[int]) -> VaultPolicy:
        return cls(*(int(v) for v in values))


@dataclass(frozen=True)
class ListedAsset:
    """One price-book slot. `token` / `feed` None: deploy a mock (dev chains only)."""

    asset: Asset
    price: Decimal | None = None  # initial mock feed answer, USD
    feed_decimals: int = 8
    token: str | None = None
    feed: str | None = None


@dataclass(frozen=True)
class OnchainSnapshot:
    """A price-book snapshot as committed on-chain (prices 8-decimal USD, thresholds bps)."""

    snapshot_id: int
    hash: int
    taken_at: int
    oldest_price_at: int
    prices: tuple[int, ...]
    liquidation_thresholds: tuple[int, ...]


@dataclass(frozen=True)
class AccountState:
    """RiskVault.AccountState (fields in the Solidity struct's order)."""

    escrow: int
    nonce: int
    last_proof_at: int
    last_liquidated_at: int
    last_proof_snapshot_id: int
    commitment: int


def feed_answer(price: Decimal, decimals: int) -> int:
    """A USD price as a Chainlink answer with `decimals` decimals (exact, or ValueError)."""
    scaled = price * 10**decimals
    if scaled != scaled.to_integral_value():
        raise ValueError(f"price {price} has more than {decimals} decimals")
    return int(scaled)
