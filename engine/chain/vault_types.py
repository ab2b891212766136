"""Plain data shared by the vault client, its deployment and the dev scenario."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from ..risk.models import Asset


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def struct_values(
    components: Sequence[Mapping[str, Any]], values: Mapping[str, Any]
) -> tuple[Any, ...]:
    """A Solidity struct's tuple in the ABI's field order, from snake_case field names."""
    missing = [c["name"] for c in components if _snake(str(c["name"])) not in values]
    if missing:
        raise ValueError(f"no value for struct field(s) {', '.join(missing)}")
    return tuple(values[_snake(str(c["name"]))] for c in components)


def struct_fields(components: Sequence[Mapping[str, Any]], raw: Sequence[Any]) -> dict[str, Any]:
    """A returned struct tuple as {snake_case field: value}, by the ABI's field names."""
    return {_snake(str(c["name"])): v for c, v in zip(components, raw, strict=True)}


@dataclass(frozen=True)
class VaultPolicy:
    """RiskVault.Policy (see its NatSpec; bounds in RiskVault__InvalidPolicy): seconds and bps.

    Fields are the Solidity names in snake_case; the struct's tuple order comes from the ABI
    (`struct_values`), so the order of the fields here does not matter.
    """

    min_health_bps: int
    degraded_min_health_bps: int
    close_factor_bps: int
    liquidation_bonus_bps: int
    stale_slice_bps: int
    liquidation_cooldown: int
    max_proof_age: int
    max_price_age: int
    snapshot_window: int
    max_attestation_age: int
    min_leftover: int

    def as_dict(self) -> dict[str, int]:
        return {f.name: int(getattr(self, f.name)) for f in fields(self)}

    def abi_tuple(self, components: Sequence[Mapping[str, Any]]) -> tuple[Any, ...]:
        return struct_values(components, self.as_dict())

    @classmethod
    def from_abi(cls, components: Sequence[Mapping[str, Any]], raw: Sequence[Any]) -> VaultPolicy:
        values = struct_fields(components, raw)
        return cls(**{f.name: int(values[f.name]) for f in fields(cls)})


@dataclass(frozen=True)
class ListedAsset:
    """One price-book slot. `token` / `feed` None: deploy a mock (dev chains only)."""

    asset: Asset
    price: Decimal | None = None  # initial mock feed answer, USD
    feed_decimals: int = 8
    token: str | None = None
    feed: str | None = None
    heartbeat: int = 3_600
    """Seconds after which the primary feed's answer is stale (its Chainlink heartbeat)."""
    secondary_feed: str | None = None
    """A second AggregatorV3 feed used when the primary is stale, out of bounds or reverts."""
    secondary_price: Decimal | None = None
    """With no `secondary_feed`: deploy a mock secondary at this price (dev chains); None: none."""
    secondary_heartbeat: int = 3_600
    min_answer: int = 1
    """Lowest accepted answer, PRICE fixed point (8 decimals)."""
    max_answer: int = 10**8 * 10**9
    """Highest accepted answer, PRICE fixed point (8 decimals): 1e9 USD."""
    max_deviation_bps: int = 500
    """Primary and secondary further apart than this: the snapshot is degraded for the asset."""


@dataclass(frozen=True)
class OnchainSnapshot:
    """A price-book snapshot as committed on-chain (prices 8-decimal USD, thresholds bps)."""

    snapshot_id: int
    hash: int
    taken_at: int
    oldest_price_at: int
    prices: tuple[int, ...]
    liquidation_thresholds: tuple[int, ...]
    degraded: bool = False
    """Some asset's price came from its secondary feed (or the two deviate): desks must prove
    the policy's degradedMinHealthBps instead of minHealthBps."""


@dataclass(frozen=True)
class AccountState:
    """RiskVault.AccountState, read by field name (the struct's order is the ABI's)."""

    escrow: int
    nonce: int
    last_proof_at: int
    last_liquidated_at: int
    last_proof_snapshot_id: int
    commitment: int
    book_sequence: int = 0
    book_issued_at: int = 0
    """issuedAt of the latest attested book: withdrawals need it within maxAttestationAge, and
    after a liquidation the proof path needs a book issued later than it."""

    def book_predates_liquidation(self) -> bool:
        """The vault refuses a proof-path liquidation: the book still carries the debt the last
        liquidation repaid (RiskVault__BookPredatesLiquidation)."""
        return self.last_liquidated_at != 0 and self.book_issued_at <= self.last_liquidated_at

    @classmethod
    def from_abi(cls, components: Sequence[Mapping[str, Any]], raw: Sequence[Any]) -> AccountState:
        values = struct_fields(components, raw)
        known = {f.name for f in fields(cls)}
        return cls(**{k: int(v) for k, v in values.items() if k in known})


def feed_answer(price: Decimal, decimals: int) -> int:
    """A USD price as a Chainlink answer with `decimals` decimals (exact, or ValueError)."""
    scaled = price * 10**decimals
    if scaled != scaled.to_integral_value():
        raise ValueError(f"price {price} has more than {decimals} decimals")
    return int(scaled)


@dataclass(frozen=True)
class Liveness:
    """PriceBook.LivenessConfig: snapshot rate limit, oracle-outage detection, L2 sequencer."""

    min_snapshot_interval: int = 1
    """Seconds between two snapshots (storage-spam bound), [1, 60]."""
    outage_gap: int = 86_400
    """No snapshot for longer than this: the next one ends an oracle outage, [300 s, 1 day]."""
    oracle_grace: int = 300
    """No liquidation for this long after an oracle outage ends, [300 s, 1 day]."""
    sequencer_feed: str = "0x0000000000000000000000000000000000000000"
    """Chainlink L2 sequencer-uptime feed; the zero address on L1."""
    sequencer_grace: int = 0
    """Grace after the sequencer is back up; 0 iff there is no sequencer feed."""

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
