"""The delta hedge: the order that brings a book's delta on one underlying back to zero.

The hedge instrument is delta one (the underlying's spot or a perp on it), so trading −Δ units
of it zeroes the delta; the size is rounded to the nearest multiple of the lot (half-even), and
a delta within half a lot of zero needs no order. Gamma, vega, theta and rho are unchanged by a
delta-one hedge: the order only moves delta.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from ..kinds import Side
from .portfolio_greeks import UnderlyingGreeks

DEFAULT_LOT = Decimal("0.00000001")
"""The smallest quantity a book position holds (QTY_DECIMALS = 8 places)."""


@dataclass(frozen=True, slots=True)
class HedgeOrder:
    """A suggested delta-hedge order."""

    underlying: str
    symbol: str
    """The instrument traded: the underlying itself, or a perp on it."""
    side: Side
    quantity: Decimal
    delta_before: float
    delta_after: float


def delta_hedge(
    exposure: UnderlyingGreeks, instrument: str, lot: Decimal = DEFAULT_LOT
) -> HedgeOrder | None:
    """The order in `instrument` (delta one) that zeroes `exposure`'s delta; None if within a lot."""
    if not lot.is_finite() or lot <= 0:
        raise ValueError(f"lot {lot} must be a positive quantity, e.g. 0.001")
    delta = exposure.greeks.delta
    lots = (Decimal(repr(abs(delta))) / lot).to_integral_value(rounding=ROUND_HALF_EVEN)
    quantity = lots * lot
    if quantity == 0:
        return None
    side = Side.SELL if delta > 0 else Side.BUY
    signed = float(quantity) if side is Side.BUY else -float(quantity)
    return HedgeOrder(
        exposure.underlying, instrument, side, quantity.normalize(), delta, delta + signed
    )
