"""Health factor and liquidation amounts as Aave v3.3 defines them, in exact integer fixed point.

    W = Σ collateral_i · price_i · lt_i     (VALUE · BPS scale)
    D = Σ debt_i · price_i                  (VALUE scale)
    HF = W / D, reported in bps; HF ≥ t  ⇔  W ≥ t · D   (what the Health circuit compares)

That is Aave v3's health factor (GenericLogic.calculateUserAccountData: Σ collateral in base
currency × liquidation threshold / total debt). Close factor, bonus and the dust rule follow
Aave v3.3, LiquidationLogic.executeLiquidationCall and _calculateAvailableCollateralToLiquidate
(aave-dao/aave-v3-origin, src/contracts/protocol/libraries/logic/LiquidationLogic.sol):
  - a position is liquidatable when HF < 1;
  - the whole debt reserve may be repaid when HF ≤ 0.95 (CLOSE_FACTOR_HF_THRESHOLD), or when the
    debt or the collateral reserve is worth < $2,000 (MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD);
    otherwise at most 50 % (DEFAULT_LIQUIDATION_CLOSE_FACTOR) of the account's *total* debt
    value, and never more than this reserve's debt;
  - seized collateral = repaid value / collateral price × (1 + bonus), the bonus rounded half up
    (PercentageMath.percentMul); when the collateral cannot cover it, all of it is seized and
    the repayment shrinks to match (percentDiv, half up);
  - a liquidation that clears neither the debt nor the collateral must leave ≥ $1,000 of both
    (MIN_LEFTOVER_BASE), else it reverts (MUST_NOT_LEAVE_DUST).
Quantities are at QTY scale (the same for every asset, so Aave's asset units cancel), prices at
PRICE scale, thresholds in bps. Not modelled: e-mode bonuses, the protocol's liquidation fee,
bad-debt burning, isolation mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

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


#: Aave v3.3 LiquidationLogic constants, in this module's scales.
CLOSE_FACTOR_HF_THRESHOLD_BPS: Final = 9_500
DEFAULT_LIQUIDATION_CLOSE_FACTOR_BPS: Final = 5_000
MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD: Final = 2_000 * fp.VALUE_SCALE  # $2,000, VALUE scale
MIN_LEFTOVER_BASE: Final = MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD // 2  # $1,000, VALUE scale


class DustLeftError(ValueError):
    """Aave v3.3 MUST_NOT_LEAVE_DUST: the liquidation would leave < MIN_LEFTOVER_BASE behind."""


def _percent_mul(value: int, bps: int) -> int:
    """Aave PercentageMath.percentMul: value · bps / 10⁴, rounded half up."""
    return (value * bps + fp.BPS_SCALE // 2) // fp.BPS_SCALE


def _percent_div(value: int, bps: int) -> int:
    """Aave PercentageMath.percentDiv: value · 10⁴ / bps, rounded half up."""
    return (value * fp.BPS_SCALE + bps // 2) // bps


def close_factor_bps(
    weighted: int,
    debt_value: int,
    *,
    reserve_debt_value: int,
    reserve_collateral_value: int,
    default_bps: int = DEFAULT_LIQUIDATION_CLOSE_FACTOR_BPS,
    full_at_or_below_bps: int = CLOSE_FACTOR_HF_THRESHOLD_BPS,
) -> int:
    """Aave v3.3 close factor: 100 % when HF ≤ 0.95 (decided exactly, W ≤ 0.95 · D) or when the
    debt or collateral reserve is worth < $2,000; else `default_bps` (50 %) of the total debt.

    `weighted` and `debt_value` are the account's W and D; the reserve values are VALUE scale.
    """
    if (
        weighted <= full_at_or_below_bps * debt_value
        or reserve_debt_value < MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD
        or reserve_collateral_value < MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD
    ):
        return fp.BPS_SCALE
    return default_bps


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
    weighted: int,
    total_debt_value: int,
    bonus_bps: int,
    close_factor: int = DEFAULT_LIQUIDATION_CLOSE_FACTOR_BPS,
    full_close_at_or_below_bps: int = CLOSE_FACTOR_HF_THRESHOLD_BPS,
    requested: int | None = None,
) -> Liquidation:
    """Aave v3.3 liquidation of one debt reserve against one collateral reserve.

    `weighted` (W) and `total_debt_value` (D) are the whole account's, as in the module doc;
    `bonus_bps` is the bonus over the repaid value (500 = 5 %, Aave's 10_500). Only HF < 1 is
    liquidatable (else nothing is repaid). Raises DustLeftError when a partial liquidation would
    leave less than $1,000 of debt or collateral (MUST_NOT_LEAVE_DUST).
    """
    for name, v in (("debt", debt), ("collateral", collateral), ("weighted", weighted)):
        if v < 0:
            raise ValueError(f"{name} must be non-negative, got {v}")
    if debt_price <= 0 or collateral_price <= 0:
        raise ValueError("prices must be positive")
    debt_value, collateral_value = debt * debt_price, collateral * collateral_price
    if total_debt_value < debt_value:
        raise ValueError("total_debt_value must include this reserve's debt")
    if weighted >= fp.BPS_SCALE * total_debt_value:  # HF ≥ 1 (or no debt)
        return Liquidation(0, 0, 0)
    factor = close_factor_bps(
        weighted, total_debt_value,
        reserve_debt_value=debt_value, reserve_collateral_value=collateral_value,
        default_bps=close_factor, full_at_or_below_bps=full_close_at_or_below_bps,
    )  # fmt: skip
    repay = debt
    if factor < fp.BPS_SCALE:
        cap_value = _percent_mul(total_debt_value, factor)
        if debt_value > cap_value:
            repay = cap_value // debt_price
    if requested is not None:
        if requested < 0:
            raise ValueError("requested repayment must be non-negative")
        repay = min(repay, requested)
    bonus_factor = fp.BPS_SCALE + bonus_bps
    seize = _percent_mul(debt_price * repay // collateral_price, bonus_factor)
    if seize > collateral:
        seize = collateral
        repay = _percent_div(collateral_price * collateral // debt_price, bonus_factor)
    if repay < debt and seize < collateral:
        left_debt, left_collateral = (
            (debt - repay) * debt_price,
            (collateral - seize) * collateral_price,
        )
        if left_debt < MIN_LEFTOVER_BASE or left_collateral < MIN_LEFTOVER_BASE:
            raise DustLeftError(
                "MUST_NOT_LEAVE_DUST (Aave v3.3): the liquidation would leave "
                f"${fp.from_fixed(left_debt, fp.VALUE_DECIMALS):f} of debt and "
                f"${fp.from_fixed(left_collateral, fp.VALUE_DECIMALS):f} of collateral; either "
                "clear one of them or leave at least $1,000 of both"
            )
    return Liquidation(
        debt_repaid=repay, collateral_seized=seize, bonus=seize - _percent_div(seize, bonus_factor)
    )
