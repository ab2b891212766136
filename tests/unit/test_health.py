"""Health factor and liquidation amounts against a Decimal reference."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

import pytest

from zkrisk.engine.risk import fixed_point as fp
from zkrisk.engine.risk.metrics.health import (
    close_factor_bps,
    health_factor_bps,
    is_healthy,
    liquidation_amounts,
    total_debt,
    weighted_collateral,
)

D = Decimal


def q(x: str) -> int:
    return fp.to_fixed(x, fp.QTY_DECIMALS, fp.QTY_BITS, name="q")


def p(x: str) -> int:
    return fp.to_price(x)


def test_health_factor_matches_the_decimal_reference() -> None:
    # 1.5 WBTC @ 61,250.5 (LT 78 %) + 20,000 USDC @ 1.0001 (LT 90 %) vs 12 WETH @ 3,012.55 debt.
    w = weighted_collateral([q("1.5"), q("20000"), 0], [p("61250.5"), p("1.0001"), p("3012.55")],
                            [7_800, 9_000, 8_250])  # fmt: skip
    d = total_debt([0, 0, q("12")], [p("61250.5"), p("1.0001"), p("3012.55")])
    reference = (D("1.5") * D("61250.5") * D("0.78") + D(20000) * D("1.0001") * D("0.9")) / (
        12 * D("3012.55")
    )
    assert health_factor_bps(w, d) == int((reference * 10_000).to_integral_value(ROUND_FLOOR))
    assert health_factor_bps(w, d) == 24_803  # 89,663.885 / 36,150.6 = 2.4803…


def test_health_factor_without_debt_is_none() -> None:
    assert health_factor_bps(5, 0) is None


def test_negative_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        health_factor_bps(-1, 1)


def test_is_healthy_exactly_at_the_threshold_and_not_one_unit_below() -> None:
    debt = 123_456_789
    assert is_healthy(10_500 * debt, debt, 10_500)
    assert not is_healthy(10_500 * debt - 1, debt, 10_500)


def test_is_healthy_refuses_a_threshold_wider_than_bps_bits() -> None:
    with pytest.raises(ValueError, match="threshold_bps"):
        is_healthy(1, 1, 2**16)


def test_close_factor_is_full_below_the_threshold_and_default_at_it() -> None:
    assert close_factor_bps(9_499, default_bps=5_000, full_below_bps=9_500) == 10_000
    assert close_factor_bps(9_500, default_bps=5_000, full_below_bps=9_500) == 5_000


def _liquidate(hf: int, collateral: str = "100", requested: int | None = None) -> tuple[int, ...]:
    result = liquidation_amounts(
        debt=q("10"), debt_price=p("2000"), collateral=q(collateral), collateral_price=p("100000"),
        hf_bps=hf, close_factor=5_000, full_close_below_bps=9_500, bonus_bps=500,
        requested=requested,
    )  # fmt: skip
    return result.debt_repaid, result.collateral_seized, result.bonus


def test_healthy_account_cannot_be_liquidated() -> None:
    assert _liquidate(10_000) == (0, 0, 0)


def test_liquidation_just_under_one_repays_half_the_debt_with_the_bonus() -> None:
    repaid, seized, bonus = _liquidate(9_999)
    assert repaid == q("5")  # close factor 50 %
    # 5 WETH · 2,000 · 1.05 / 100,000 = 0.105 WBTC, of which 0.005 is the bonus.
    assert seized == q("0.105") and bonus == q("0.005")


def test_liquidation_below_the_full_close_level_repays_all_of_the_debt() -> None:
    repaid, seized, _ = _liquidate(9_499)
    assert repaid == q("10") and seized == q("0.21")


def test_liquidation_is_capped_by_the_available_collateral() -> None:
    repaid, seized, _ = _liquidate(9_000, collateral="0.105")
    assert seized == q("0.105")
    assert repaid == q("5")


def test_liquidation_repays_no_more_than_requested() -> None:
    repaid, seized, _ = _liquidate(9_999, requested=q("1"))
    assert repaid == q("1") and seized == q("0.021")


def test_liquidation_refuses_negative_amounts_and_zero_prices() -> None:
    with pytest.raises(ValueError, match="debt must be non-negative"):
        liquidation_amounts(debt=-1, debt_price=1, collateral=1, collateral_price=1, hf_bps=1,
                            close_factor=5_000, full_close_below_bps=9_500, bonus_bps=0)  # fmt: skip
    with pytest.raises(ValueError, match="prices must be positive"):
        liquidation_amounts(debt=1, debt_price=0, collateral=1, collateral_price=1, hf_bps=1,
                            close_factor=5_000, full_close_below_bps=9_500, bonus_bps=0)  # fmt: skip
