"""Perpetual futures: mark price, funding, margin, unrealised P&L and liquidation price.

Exact Decimal arithmetic (money, like the rest of the book). One contract is one unit of the
underlying; a position's quantity q is signed (> 0 long, < 0 short); prices are USD.

    premium index   P = (max(0, impact_bid − index) − max(0, index − impact_ask)) / index
    funding rate    F = P + clamp(I − P, −c, +c)  per funding interval (I: interest, c: clamp)
    mark price      median(index, impact_bid, impact_ask)
    funding payment q · mark · F   paid BY the holder when > 0: longs pay shorts when F > 0,
                                   shorts pay longs when F < 0 (the holder's cash flow is −q·mark·F)
    unrealised P&L  q · (mark − entry)
    initial margin  |q| · mark · im      maintenance margin  |q| · mark · mm
    liquidation     the mark at which collateral + P&L = maintenance margin (isolated margin)

The premium index and funding clamp follow Binance USDⓈ-M futures (BitMEX's definition is the
same shape; their defaults: I = 0.01 % per 8 h, c = 0.05 %). The mark is the index clamped into
the book's impact quotes, so a thin book cannot drag it away from the index without quotes there.
"""

from __future__ import annotations

from decimal import Decimal

DEFAULT_INTEREST_RATE = Decimal("0.0001")
"""I, per funding interval (0.01 % per 8 h: 0.03 % a day)."""
DEFAULT_FUNDING_CLAMP = Decimal("0.0005")
"""c, per funding interval."""


def _positive(name: str, value: Decimal) -> None:
    if not value.is_finite() or value <= 0:
        raise ValueError(f"{name}={value} must be a positive price")


def _rate(name: str, value: Decimal) -> None:
    if not value.is_finite() or not 0 < value <= 1:
        raise ValueError(f"{name}={value} must lie in (0, 1] (0.05 = 5 % of notional)")


def premium_index(index: Decimal, impact_bid: Decimal, impact_ask: Decimal) -> Decimal:
    """How far the perp's book trades from the index, as a fraction of the index (docstring)."""
    for name, value in (("index", index), ("impact_bid", impact_bid), ("impact_ask", impact_ask)):
        _positive(name, value)
    if impact_bid > impact_ask:
        raise ValueError(f"impact_bid {impact_bid} is above impact_ask {impact_ask}")
    zero = Decimal(0)
    return (max(zero, impact_bid - index) - max(zero, index - impact_ask)) / index


def funding_rate(
    premium: Decimal,
    interest_rate: Decimal = DEFAULT_INTEREST_RATE,
    clamp: Decimal = DEFAULT_FUNDING_CLAMP,
) -> Decimal:
    """F = P + clamp(I − P, −c, c), per funding interval."""
    if not clamp.is_finite() or clamp < 0:
        raise ValueError(f"clamp={clamp} must be ≥ 0")
    return premium + min(max(interest_rate - premium, -clamp), clamp)


def mark_price(index: Decimal, impact_bid: Decimal, impact_ask: Decimal) -> Decimal:
    """median(index, impact_bid, impact_ask)."""
    for name, value in (("index", index), ("impact_bid", impact_bid), ("impact_ask", impact_ask)):
        _positive(name, value)
    if impact_bid > impact_ask:
        raise ValueError(f"impact_bid {impact_bid} is above impact_ask {impact_ask}")
    return sorted((index, impact_bid, impact_ask))[1]


def funding_payment(quantity: Decimal, mark: Decimal, rate: Decimal) -> Decimal:
    """q · mark · F: what the holder pays this interval (negative: what it receives)."""
    _positive("mark", mark)
    return quantity * mark * rate


def unrealised_pnl(quantity: Decimal, entry_price: Decimal, mark: Decimal) -> Decimal:
    """q · (mark − entry): a long gains when the mark rises, a short when it falls."""
    _positive("entry_price", entry_price)
    _positive("mark", mark)
    return quantity * (mark - entry_price)


def initial_margin(quantity: Decimal, mark: Decimal, im_rate: Decimal) -> Decimal:
    """|q| · mark · im: the collateral needed to open (or grow) the position."""
    _positive("mark", mark)
    _rate("im_rate", im_rate)
    return abs(quantity) * mark * im_rate


def maintenance_margin(quantity: Decimal, mark: Decimal, mm_rate: Decimal) -> Decimal:
    """|q| · mark · mm: below this equity the position is liquidated."""
    _positive("mark", mark)
    _rate("mm_rate", mm_rate)
    return abs(quantity) * mark * mm_rate


def liquidation_price(
    quantity: Decimal, entry_price: Decimal, collateral: Decimal, mm_rate: Decimal
) -> Decimal | None:
    """The mark P where collateral + q·(P − entry) = |q|·P·mm (isolated margin).

    long:  P = (entry − collateral/q) / (1 − mm)     short:  P = (entry + collateral/|q|) / (1 + mm)
    None when no positive mark liquidates (a long whose collateral covers its whole entry
    value, or a flat position). Collateral below the maintenance margin at entry puts the price
    on the favourable side of the entry: the position is liquidatable already.
    """
    _positive("entry_price", entry_price)
    _rate("mm_rate", mm_rate)
    if mm_rate == 1:  # a long's equity could never exceed 100 % of its value: no single price
        raise ValueError("mm_rate=1 leaves no liquidation price: maintenance must be below 100 %")
    if not collateral.is_finite() or collateral < 0:
        raise ValueError(f"collateral={collateral} must be ≥ 0")
    if quantity == 0:
        return None
    size = abs(quantity)
    if quantity > 0:
        price = (entry_price - collateral / size) / (1 - mm_rate)
        return price if price > 0 else None
    return (entry_price + collateral / size) / (1 + mm_rate)
