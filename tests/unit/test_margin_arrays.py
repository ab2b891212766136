"""SPAN's scenario grid, risk arrays from a valuation, and the shipped example file."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from zkrisk.engine.files import load_model
from zkrisk.engine.risk.instruments.black_scholes import bs_price
from zkrisk.engine.risk.margin.arrays import RiskArray, RiskArraySet
from zkrisk.engine.risk.margin.scenarios import (
    EXTREME_COVER,
    linear_value,
    option_value,
    risk_array,
    span_scenarios,
)

REPO = Path(__file__).resolve().parents[2]
USD = 10**8


def test_span_grid_is_cmes_sixteen_scenarios_in_cmes_order() -> None:
    grid = span_scenarios()
    assert len(grid) == 16
    moves = [(s.price_move, s.vol_move) for s in grid[:14]]
    third = Fraction(1, 3)
    assert moves[:6] == [(0, 1), (0, -1), (third, 1), (third, -1), (-third, 1), (-third, -1)]
    assert moves[10:14] == [(1, 1), (1, -1), (-1, 1), (-1, -1)]
    assert [(s.price_move, s.vol_move, s.cover) for s in grid[14:]] == [
        (2, 0, EXTREME_COVER), (-2, 0, EXTREME_COVER),
    ]  # fmt: skip
    assert Fraction(35, 100) == EXTREME_COVER


def test_a_perps_array_is_its_price_move_and_the_extremes_count_35_percent() -> None:
    array = risk_array(linear_value, 90_000.0, 0.5, 9_000.0, 0.05, span_scenarios())
    assert array[2] == 3_000 * USD and array[12] == -9_000 * USD
    assert array[14] == 6_300 * USD and array[15] == -6_300 * USD  # 35 % of ±18,000


def test_an_options_array_reprices_with_black_scholes_under_each_scenario() -> None:
    grid = span_scenarios()
    array = risk_array(option_value(95_000.0, 0.1, 0.04, "call"), 90_000.0, 0.5, 9_000.0, 0.05,
                       grid)  # fmt: skip
    base = bs_price(90_000.0, 95_000.0, 0.1, 0.04, 0.5, "call")
    up_vol_up = bs_price(99_000.0, 95_000.0, 0.1, 0.04, 0.55, "call") - base
    assert array[10] == round(up_vol_up * USD)
    assert array[0] > 0 > array[1]  # vega: vol up gains, vol down loses


def test_a_price_scan_that_would_move_the_price_below_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="price scan range below"):
        risk_array(linear_value, 100.0, 0.5, 60.0, 0.05, span_scenarios())


def test_the_shipped_example_is_the_span_grid_of_its_stated_parameters() -> None:
    shipped = load_model(REPO / "examples" / "risk-arrays.toml", RiskArraySet)
    grid = span_scenarios()
    assert shipped.scenarios == tuple(s.label for s in grid)
    expected = {
        "BTC-PERP": risk_array(linear_value, 90_000.0, 0.55, 9_000.0, 0.05, grid),
        "ETH-PERP": risk_array(linear_value, 3_000.0, 0.65, 360.0, 0.05, grid),
        "BTC-C95K": risk_array(option_value(95_000.0, 30 / 365, 0.04, "call"), 90_000.0, 0.55,
                               9_000.0, 0.05, grid),
        "BTC-P85K": risk_array(option_value(85_000.0, 30 / 365, 0.04, "put"), 90_000.0, 0.55,
                               9_000.0, 0.05, grid),
        "USDC": (0,) * 16,
    }  # fmt: skip
    for symbol, array in expected.items():
        published = shipped.array(symbol)
        assert published is not None and published.pnl_fixed == array, symbol


def test_risk_array_file_refuses_duplicate_instruments() -> None:
    one = RiskArray(symbol="X", pnl=(1,))
    with pytest.raises(ValueError, match="duplicate instruments: X"):
        RiskArraySet(scenarios=("s",), instruments=(one, one))


def test_risk_array_entry_with_more_than_8_decimals_is_refused() -> None:
    from decimal import Decimal

    with pytest.raises(ValueError, match="more than 8 decimal places"):
        RiskArray(symbol="X", pnl=(Decimal("0.000000001"),))
