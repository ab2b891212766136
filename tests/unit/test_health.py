"""Health factor and liquidation amounts (Aave v3.3 LiquidationLogic) against hand computations."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

import pytest

from zkrisk.engine.risk import fixed_point as fp
from zkrisk.engine.risk.metrics.health import (
    MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD,
    DustLeftError,
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


USD = fp.VALUE_SCALE  # $1 at VALUE scale
BIG = 10**6 * USD  # a reserve far above the $2,000 rule


def test_close_factor_is_full_at_hf_exactly_095_and_half_one_unit_above() -> None:
    debt = 20_000 * USD
    at = close_factor_bps(9_500 * debt, debt, reserve_debt_value=debt, reserve_collateral_value=BIG)
    above = close_factor_bps(9_500 * debt + 1, debt, reserve_debt_value=debt,
                             reserve_collateral_value=BIG)  # fmt: skip
    assert (at, above) == (10_000, 5_000)


@pytest.mark.parametrize(
    ("reserve_debt", "reserve_collateral", "factor"),
    [
        (MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD - 1, BIG, 10_000),  # debt < $2,000
        (BIG, MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD - 1, 10_000),  # collateral < $2,000
        (MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD, MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD, 5_000),
    ],
)
def test_small_reserves_below_2000_usd_may_be_liquidated_fully(
    reserve_debt: int, reserve_collateral: int, factor: int
) -> None:
    debt = 10**6 * USD
    assert close_factor_bps(9_900 * debt, debt, reserve_debt_value=reserve_debt,
                            reserve_collateral_value=reserve_collateral) == factor  # fmt: skip


def _liquidate(
    hf: int,
    collateral: str = "100",
    requested: str | None = None,
    debt: str = "10",
    total_usd: int | None = None,
) -> tuple[int, ...]:
    # `debt` WETH @ 2,000 against `collateral` WBTC @ 100,000; W = hf · D for the whole account.
    total = (total_usd * USD) if total_usd is not None else q(debt) * p("2000")
    result = liquidation_amounts(
        debt=q(debt), debt_price=p("2000"), collateral=q(collateral), collateral_price=p("100000"),
        weighted=hf * total, total_debt_value=total, bonus_bps=500,
        requested=None if requested is None else q(requested),
    )  # fmt: skip
    return result.debt_repaid, result.collateral_seized, result.bonus


def test_healthy_account_cannot_be_liquidated() -> None:
    assert _liquidate(10_000) == (0, 0, 0)


def test_liquidation_just_under_one_repays_half_the_debt_with_the_bonus() -> None:
    repaid, seized, bonus = _liquidate(9_999)
    assert repaid == q("5")  # close factor 50 %
    # 5 WETH · 2,000 · 1.05 / 100,000 = 0.105 WBTC, of which 0.005 is the bonus.
    assert seized == q("0.105") and bonus == q("0.005")


def test_liquidation_at_hf_095_repays_all_of_the_debt() -> None:
    repaid, seized, _ = _liquidate(9_500)
    assert repaid == q("10") and seized == q("0.21")
    assert _liquidate(9_501)[0] == q("5")


def test_half_the_total_debt_caps_one_reserve_only_when_it_is_more_than_half() -> None:
    # WETH debt $20,000 of $100,000 in all: 50 % of the total ($50,000) covers the whole reserve.
    assert _liquidate(9_900, total_usd=100_000)[0] == q("10")
    # $20,000 of $30,000: at most $15,000 = 7.5 WETH.
    assert _liquidate(9_900, total_usd=30_000)[0] == q("7.5")


def test_debt_reserve_below_2000_usd_is_repaid_in_full_at_hf_099() -> None:
    assert _liquidate(9_900, debt="0.9")[0] == q("0.9")  # $1,800
    assert _liquidate(9_900, debt="1")[0] == q("0.5")  # $2,000: the 50 % rule


def test_liquidation_is_capped_by_the_available_collateral() -> None:
    repaid, seized, _ = _liquidate(9_000, collateral="0.105")
    assert seized == q("0.105")
    assert repaid == q("5")


def test_liquidation_repays_no_more_than_requested() -> None:
    repaid, seized, _ = _liquidate(9_999, requested="1")
    assert repaid == q("1") and seized == q("0.021")


def test_bonus_is_rounded_half_up_as_aave_percent_mul() -> None:
    # 500 units of WETH · 2,000 / 100,000 = 10 units of WBTC; · 1.05 = 10.5 → 11 (floor: 10).
    assert _liquidate(9_000, requested="0.000005")[1:] == (11, 1)


def test_partial_liquidation_leaving_debt_dust_under_1000_usd_reverts() -> None:
    with pytest.raises(DustLeftError, match=r"MUST_NOT_LEAVE_DUST.*\$800"):
        _liquidate(9_000, requested="9.6")  # leaves 0.4 WETH = $800
    assert _liquidate(9_000, requested="9.5")[0] == q("9.5")  # leaves exactly $1,000
    assert _liquidate(9_000, requested="10")[0] == q("10")  # clears the debt: no dust rule


def test_partial_liquidation_leaving_collateral_dust_under_1000_usd_reverts() -> None:
    # 9 WETH → 0.189 WBTC seized; 0.195 leaves 0.006 WBTC = $600, 0.2 leaves $1,100.
    with pytest.raises(DustLeftError, match="collateral"):
        _liquidate(9_000, collateral="0.195", requested="9")
    assert _liquidate(9_000, collateral="0.2", requested="9")[1] == q("0.189")


def test_liquidation_refuses_negative_amounts_and_zero_prices() -> None:
    with pytest.raises(ValueError, match="debt must be non-negative"):
        liquidation_amounts(debt=-1, debt_price=1, collateral=1, collateral_price=1, weighted=0,
                            total_debt_value=1, bonus_bps=0)  # fmt: skip
    with pytest.raises(ValueError, match="prices must be positive"):
        liquidation_amounts(debt=1, debt_price=0, collateral=1, collateral_price=1, weighted=0,
                            total_debt_value=1, bonus_bps=0)  # fmt: skip
    with pytest.raises(ValueError, match="total_debt_value"):
        liquidation_amounts(debt=2, debt_price=1, collateral=1, collateral_price=1, weighted=0,
                            total_debt_value=1, bonus_bps=0)  # fmt: skip
