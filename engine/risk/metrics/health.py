"""Health factor (Aave v3 style) and liquidation amounts, in exact integer fixed point.

    W = Σ collateral_i · price_i · lt_i     (VALUE · BPS scale)
    D = Σ debt_i · price_i                  (VALUE scale)
    HF = W / D, reported in bps; HF ≥ t  ⇔  W ≥ t · D   (what the Health circuit compares)

Quantities are at QTY scale, prices at PRICE scale, thresholds in bps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .. import fixed_point as fp


def weighted_collateral(
    collateral: Sequence[int], prices: Sequence[int], lts_bps: Sequence[int]
) -> int:
    """Σ collateral·price·lt: liquidation-threshold-weighted collateral, VALUE·BPS scale."""
    return sum(c * p * lt for c, p, lt in zip(collateral, prices, lts_bps, strict=True))


def total_debt(debt: Sequence[int], prices: Sequence[int]) -> int:
    """Σ debt·price, VALUE scale."""
    return sum(d * p for d, p in zip(debt, prices, strict=True))


def health_factor_bps(weighted: int, debt_value: int) -> int | None:
    """⌊W / D⌋ in bps (10000 = 1.0); None when there is no debt (HF is infinite)."""
    if weighted < 0 or debt_value < 0:
        raise ValueError("weighted collateral and debt must be non-negative")
    return None if debt_value == 0 else weighted // debt_value


def is_healthy(weighted: int, debt_value: int, threshold_bps: int) -> bool:
    """HF ≥ threshold, decided exactly without division: W ≥ threshold · D."""
    if not 0 <= threshold_bps < 1 << fp.BPS_BITS:
        raise ValueError(f"threshold_bps={threshold_bps} outside [0, 2**{fp.BPS_BITS})")
    return weighted >= threshold_bps * debt_value


def close_factor_bps(hf_bps: int, *, default_bps: int, full_below_bps: int) -> int:
    """Share of a debt repayable in one liquidation: all of it once HF < full_below (Aave v3)."""
    return fp.BPS_SCALE if hf_bps < full_below_bps else default_bps


@dataclass(frozen=True, slots=True)
class Liquidation:
    """One liquidation call's amounts, QTY scale of each asset."""

    debt_repaid: int
    """Debt asset the liquidator repays."""
    collateral_seized: int
    """Collateral asset the liquidator receives, bonus included."""
    bonus: int
    """The part of `collateral_seized` that is the liquidator's bonus."""


def liquidation_amounts(
    *,
    debt: int,
    debt_price: int,
    collateral: int,
    collateral_price: int,
    hf_bps: int,
    close_factor: int,
    full_close_below_bps: int,
    bonus_bps: int,
    requested: int | None = None,
) -> Liquidation:
    """Aave v3 liquidation of one debt against one collateral asset, rounded for the borrower.

    Only an unhealthy account (HF < 1) is liquidatable; the repayable debt is capped by the close
    factor (100 % below `full_close_below_bps`), the seized collateral is the repaid value plus
    the bonus, and when the collateral cannot cover that, the repayment shrinks to match.
    """
    for name, v in (("debt", debt), ("collateral", collateral)):
        if v < 0:
            raise ValueError(f"{name} must be non-negative, got {v}")
    if debt_price <= 0 or collateral_price <= 0:
        raise ValueError("prices must be positive")
    if hf_bps >= fp.BPS_SCALE:
        return Liquidation(0, 0, 0)
    factor = close_factor_bps(hf_bps, default_bps=close_factor, full_below_bps=full_close_below_bps)
    repay = debt * factor // fp.BPS_SCALE
    if requested is not None:
        if requested < 0:
            raise ValueError("requested repayment must be non-negative")
        repay = min(repay, requested)
    bonus_factor = fp.BPS_SCALE + bonus_bps
    seize = repay * debt_price * bonus_factor // (collateral_price * fp.BPS_SCALE)
    if seize > collateral:
        seize = collateral
        repay = collateral * collateral_price * fp.BPS_SCALE // (debt_price * bonus_factor)
    base = seize * fp.BPS_SCALE // bonus_factor
    return Liquidation(debt_repaid=repay, collateral_seized=seize, bonus=seize - base)
