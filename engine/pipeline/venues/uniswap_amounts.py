"""How an order's quantity and price bound become router-swap amounts, and a swap's amounts a fill.

An order's `quantity` is always the amount of the asset traded, exactly:

- SELL q: `swapExactTokensForTokens(amountIn = q asset, amountOutMin = ⌈q · worst⌉ USDC)`;
- BUY q: `swapTokensForExactTokens(amountOut = q asset, amountInMax = ⌊q · worst⌋ USDC)`.

The buy is exact-out rather than exact-in so that the fill is the quantity the gate approved (the
book keeps 8-decimal quantities; an exact-in buy would receive an 18-decimal pool-chosen amount).
Its price guard is the maximum spend, the mirror of the sell's minimum proceeds. `worst` is
`limit_price` when set, else `reference_price · (1 ± max_slippage_bps / 10⁴)` (+ for a buy),
with the venue's default slippage when the order has neither. A bound is rounded towards the
order (minimum proceeds up, maximum spend down), so the swap never executes beyond `worst`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Final

from ...journal.events import OrderSpec
from ...risk.models import Side

BPS: Final = Decimal(10_000)
PRICE_QUANTUM: Final = Decimal("1e-8")
"""A fill's average price is rounded to the book's price precision (8 decimals)."""


class OrderAmountError(ValueError):
    """The order cannot be expressed in token units (too small, too many decimals)."""


@dataclass(frozen=True, slots=True)
class SwapAmounts:
    side: Side
    exact: int
    """Token units fixed by the swap: asset in (sell) or asset out (buy)."""
    bound: int
    """USDC units: the minimum out (sell) or the maximum in (buy)."""
    worst_price: Decimal


def worst_price(order: OrderSpec, default_slippage_bps: int) -> Decimal:
    if order.limit_price is not None:
        return order.limit_price
    bps = order.max_slippage_bps if order.max_slippage_bps is not None else default_slippage_bps
    sign = 1 if order.side is Side.BUY else -1
    return order.reference_price * (1 + sign * Decimal(bps) / BPS)


def _units(amount: Decimal, decimals: int, rounding: str) -> int:
    return int((amount * 10**decimals).to_integral_value(rounding))


def swap_amounts(
    order: OrderSpec, *, asset_decimals: int, quote_decimals: int, default_slippage_bps: int
) -> SwapAmounts:
    exact_decimal = order.quantity * 10**asset_decimals
    if exact_decimal != exact_decimal.to_integral_value():
        raise OrderAmountError(
            f"quantity {order.quantity} {order.symbol} has more than the token's "
            f"{asset_decimals} decimals: round it to {asset_decimals} decimals"
        )
    worst = worst_price(order, default_slippage_bps)
    notional = order.quantity * worst
    if order.side is Side.SELL:
        bound = _units(notional, quote_decimals, ROUND_CEILING)
    else:
        bound = _units(notional, quote_decimals, ROUND_FLOOR)
        if bound == 0:
            raise OrderAmountError(
                f"{order.quantity} {order.symbol} at {worst} is below one USDC unit"
            )
    return SwapAmounts(order.side, int(exact_decimal), bound, worst)


def fill_price(
    asset_units: int, quote_units: int, *, asset_decimals: int, quote_decimals: int
) -> Decimal:
    """USD per asset unit of a swap, at the book's price precision."""
    quote = Decimal(quote_units).scaleb(-quote_decimals)
    asset = Decimal(asset_units).scaleb(-asset_decimals)
    return (quote / asset).quantize(PRICE_QUANTUM, rounding=ROUND_HALF_EVEN)
