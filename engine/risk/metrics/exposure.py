"""Exposure metrics in exact integer fixed point (VALUE scale = QTY · PRICE)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .. import fixed_point as fp


def notional(quantity: int, price: int) -> int:
    """Signed notional of a position, VALUE scale."""
    return quantity * price


@dataclass(frozen=True, slots=True)
class Exposure:
    """Aggregate exposure of a book, VALUE scale."""

    long: int
    """Σ of positive notionals."""
    short: int
    """Σ of |negative notionals|."""

    @property
    def gross(self) -> int:
        """Σ |notional|."""
        return self.long + self.short

    @property
    def net(self) -> int:
        """Σ notional (signed)."""
        return self.long - self.short


def exposure(notionals: Iterable[int]) -> Exposure:
    long = short = 0
    for n in notionals:
        if n >= 0:
            long += n
        else:
            short -= n
    return Exposure(long=long, short=short)


def leverage_bps(gross: int, equity: int) -> int | None:
    """⌊gross / equity⌋ in bps; None when equity ≤ 0 (leverage is unbounded)."""
    return None if equity <= 0 else gross * fp.BPS_SCALE // equity


def concentration_bps(notionals: Mapping[str, int]) -> dict[str, int]:
    """Each asset's ⌊|notional| / gross⌋ in bps (empty book: empty dict)."""
    gross = sum(abs(n) for n in notionals.values())
    if gross == 0:
        return dict.fromkeys(notionals, 0)
    return {s: abs(n) * fp.BPS_SCALE // gross for s, n in notionals.items()}


def exceeds_concentration(asset_notional: int, gross: int, cap_bps: int) -> bool:
    """|n| / gross > cap, decided exactly: |n| · 10000 > cap · gross."""
    return abs(asset_notional) * fp.BPS_SCALE > cap_bps * gross


def within_leverage(gross: int, equity: int, cap_bps: int) -> bool:
    """gross / equity ≤ cap, decided exactly: gross · 10000 ≤ cap · equity.

    With a positive cap, a book with equity ≤ 0 passes only when it is flat.
    """
    return gross * fp.BPS_SCALE <= cap_bps * equity
