"""Implied volatility: the σ at which Black–Scholes reproduces a quoted European option price.

The price is strictly increasing in σ (vega > 0 for T > 0), so a root is unique when it exists:
exactly when the price lies inside the no-arbitrage bounds
    call: max(S − K·e^(−rT), 0) ≤ C < S        put: max(K·e^(−rT) − S, 0) ≤ P < K·e^(−rT)
(Hull, "Properties of Stock Options"). The solver keeps a bracket [lo, hi] with price(lo) ≤ target ≤ price(hi)
and takes a Newton step when it stays inside the bracket, bisecting otherwise, so it always
converges (Newton's speed near the root, bisection's guarantee away from it).
"""

from __future__ import annotations

import math

from .black_scholes import OptionKind, bs_price, check_inputs, check_kind
from .greeks import bs_greeks

MAX_VOL = 100.0
"""The largest σ searched (10,000 % a year): beyond it prices are within rounding of the bound."""
_PRICE_TOLERANCE = 1e-12
_MAX_STEPS = 200


class ImpliedVolError(ValueError):
    """No volatility reproduces the price (it is outside the no-arbitrage bounds)."""


def no_arbitrage_bounds(
    spot: float, strike: float, t_years: float, rate: float, kind: OptionKind
) -> tuple[float, float]:
    """(lower, upper): a price must satisfy lower ≤ price < upper (module docstring)."""
    k_disc = strike * math.exp(-rate * t_years)
    if check_kind(kind) == "call":
        return max(spot - k_disc, 0.0), spot
    return max(k_disc - spot, 0.0), k_disc


def implied_vol(
    price: float, spot: float, strike: float, t_years: float, rate: float, kind: OptionKind
) -> float:
    """The annual σ ≥ 0 with bs_price(spot, strike, t_years, rate, σ, kind) = price (to 1e-12).

    Raises ImpliedVolError when the price is outside the no-arbitrage bounds (or, at expiry,
    differs from the intrinsic value), naming the bounds.
    """
    check_inputs(spot, strike, t_years, rate, 0.0)
    lower, upper = no_arbitrage_bounds(spot, strike, t_years, rate, kind)
    tolerance = _PRICE_TOLERANCE * max(1.0, upper)
    if not math.isfinite(price) or not lower - tolerance <= price < upper:
        raise ImpliedVolError(
            f"{kind} price {price!r} is outside the no-arbitrage bounds "
            f"[{lower:.10g}, {upper:.10g}) for spot={spot}, strike={strike}, t_years={t_years}, "
            f"rate={rate}: no volatility reproduces it"
        )
    if price <= lower + tolerance:
        return 0.0
    if t_years == 0.0:
        raise ImpliedVolError(
            f"at expiry (t_years=0) a {kind} is worth its intrinsic value {lower:.10g}, "
            f"not {price!r}: no volatility reproduces it"
        )
    lo, hi = 0.0, 1.0
    while bs_price(spot, strike, t_years, rate, hi, kind) < price:
        lo, hi = hi, 2.0 * hi
        if hi > MAX_VOL:
            raise ImpliedVolError(
                f"{kind} price {price!r} needs a volatility above {MAX_VOL:g} (10,000 % a year); "
                f"it is within rounding of the upper bound {upper:.10g}"
            )
    vol = 0.5 * (lo + hi)
    for _ in range(_MAX_STEPS):
        error = bs_price(spot, strike, t_years, rate, vol, kind) - price
        if abs(error) <= tolerance:
            return vol
        if error > 0:
            hi = vol
        else:
            lo = vol
        vega = bs_greeks(spot, strike, t_years, rate, vol, kind).vega
        newton = vol - error / vega if vega > 0 else math.nan
        vol = newton if lo < newton < hi else 0.5 * (lo + hi)
        if hi - lo <= 1e-15 * hi:
            return vol
    return vol
