"""Domain models: frozen, strict, exact, and loud about bad input."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import BaseModel, ValidationError

from zkrisk.engine.risk import models as m
from zkrisk.engine.risk.models import (
    Asset,
    OrderIntent,
    Portfolio,
    Position,
    PricePoint,
    ScenarioSet,
    TradingWindow,
)

from .risk_fixtures import ACCOUNT, ASSETS, SCENARIOS, order, policy

D = Decimal


def test_every_model_field_has_a_docstring() -> None:
    models = [v for v in vars(m).values()
              if isinstance(v, type) and issubclass(v, BaseModel) and v.__module__ == m.__name__
              and not v.__name__.startswith("_")]  # fmt: skip
    assert len(models) >= 12
    undocumented = [f"{model.__name__}.{name}" for model in models
                    for name, info in model.model_fields.items() if not info.description]  # fmt: skip
    assert undocumented == []


def test_models_are_frozen() -> None:
    with pytest.raises(ValidationError, match="frozen"):
        ASSETS[0].symbol = "X"  # type: ignore[misc]


def test_models_refuse_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Position(symbol="WETH", quantity=D(1), side="long")  # type: ignore[call-arg]


def test_position_sign_splits_into_collateral_and_debt() -> None:
    long, short = Position(symbol="WETH", quantity=D(2)), Position(symbol="WETH", quantity=D(-3))
    assert (long.collateral, long.debt) == (D(2), D(0))
    assert (short.collateral, short.debt) == (D(0), D(3))
    assert short.quantity_fixed == -300_000_000


def test_position_with_more_decimals_than_the_quantity_scale_is_refused() -> None:
    with pytest.raises(ValidationError, match="more than 8 decimal places"):
        Position(symbol="WETH", quantity=D("0.000000001"))


def test_position_quantity_given_as_float_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"float 0\.5 refused"):
        Position(symbol="WETH", quantity=0.5)  # type: ignore[arg-type]


def test_lower_case_symbol_is_refused() -> None:
    with pytest.raises(ValidationError, match="symbol"):
        Position(symbol="weth", quantity=D(1))


def test_portfolio_account_is_validated_and_lower_cased() -> None:
    book = Portfolio(account="0x" + "AB" * 20)
    assert book.account == "0x" + "ab" * 20
    for bad in ("0x1234", "ab" * 20, "0x" + "zz" * 20):
        with pytest.raises(ValidationError, match="20-byte hex address"):
            Portfolio(account=bad)


def test_portfolio_with_duplicate_symbols_is_refused() -> None:
    with pytest.raises(ValidationError, match="duplicate position symbols: WETH"):
        Portfolio(account=ACCOUNT, positions=(Position(symbol="WETH", quantity=D(1)),) * 2)


def test_portfolio_margin_needs_its_asset() -> None:
    with pytest.raises(ValidationError, match="margin_symbol"):
        Portfolio(account=ACCOUNT, margin=D(1))
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        Portfolio(account=ACCOUNT, margin=D(-1), margin_symbol="USDC")


def test_portfolio_over_max_positions_is_refused() -> None:
    many = tuple(Position(symbol=f"A{i}", quantity=D(1)) for i in range(65))
    with pytest.raises(ValidationError, match="MAX_POSITIONS"):
        Portfolio(account=ACCOUNT, positions=many)


@pytest.mark.parametrize("price", [D("NaN"), D("Infinity"), D(0), D(-1)])
def test_price_that_is_nan_infinite_or_not_positive_is_refused(price: Decimal) -> None:
    with pytest.raises(ValidationError, match="price"):
        PricePoint(price=price, timestamp=1, round_id=1)


def test_price_keeps_its_fixed_point_form() -> None:
    assert PricePoint(price=D("3012.55"), timestamp=1, round_id=1).price_fixed == 301_255_000_000


def test_asset_collateral_factor_above_threshold_is_refused() -> None:
    with pytest.raises(ValidationError, match="must not exceed"):
        Asset(symbol="X", decimals=18, liquidation_threshold_bps=7_000,
              collateral_factor_bps=7_001, price_source="s")  # fmt: skip


def test_scenario_set_that_is_empty_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least 1 item"):
        ScenarioSet(symbols=("WETH",), returns=())


def test_scenario_row_of_the_wrong_width_is_refused() -> None:
    with pytest.raises(ValidationError, match="scenario 1 has 1 returns, expected 2"):
        ScenarioSet(symbols=("WETH", "WBTC"), returns=((D(0), D(0)), (D(0),)))


def test_scenario_return_below_minus_one_is_refused() -> None:
    with pytest.raises(ValidationError, match="below -1"):
        ScenarioSet(symbols=("WETH",), returns=((D("-1.5"),),))


def test_scenario_content_hash_is_stable_and_changes_with_any_return() -> None:
    again = ScenarioSet(symbols=SCENARIOS.symbols, returns=SCENARIOS.returns)
    assert again.content_hash == SCENARIOS.content_hash
    assert len(SCENARIOS.content_hash) == 64
    rows = [list(r) for r in SCENARIOS.returns]
    rows[2][1] = D("-0.010001")
    changed = ScenarioSet(symbols=SCENARIOS.symbols, returns=tuple(map(tuple, rows)))
    assert changed.content_hash != SCENARIOS.content_hash


def test_scenario_hash_ignores_how_a_return_is_written() -> None:
    a = ScenarioSet(symbols=("WETH",), returns=((D("0.1"),),))
    b = ScenarioSet(symbols=("WETH",), returns=((D("0.100000"),),))
    assert a.content_hash == b.content_hash


def test_order_with_negative_or_zero_size_is_refused() -> None:
    for size in (D(-1), D(0)):
        with pytest.raises(ValidationError, match="greater than 0"):
            order(quantity=size)


def test_limit_order_without_a_price_and_market_order_without_tolerance_are_refused() -> None:
    with pytest.raises(ValidationError, match="LIMIT order needs limit_price"):
        order(limit_price=None)
    with pytest.raises(ValidationError, match="needs max_slippage_bps"):
        order(order_type="MARKET", limit_price=None)
    with pytest.raises(ValidationError, match="must not carry limit_price"):
        order(order_type="MARKET", max_slippage_bps=10)


def test_order_signed_quantity_follows_the_side() -> None:
    assert order(side="SELL", quantity=D("1.5")).signed_quantity_fixed == -150_000_000
    assert isinstance(order(), OrderIntent)


def test_policy_refuses_the_quote_asset_as_an_instrument() -> None:
    with pytest.raises(ValidationError, match="cannot also be an instrument"):
        policy(instruments=("WETH", "USDC"))


@pytest.mark.parametrize("alpha", [0, 10_000, -1])
def test_policy_refuses_var_confidence_outside_the_open_unit_interval(alpha: int) -> None:
    with pytest.raises(ValidationError, match="var_confidence_bps"):
        policy(var_confidence_bps=alpha)


def test_policy_refuses_a_review_notional_at_or_above_the_hard_cap() -> None:
    with pytest.raises(ValidationError, match="review_order_notional_usd must be below"):
        policy(max_order_notional_usd=D(10), review_order_notional_usd=D(10))


def test_policy_refuses_limits_for_instruments_it_does_not_allow() -> None:
    with pytest.raises(ValidationError, match="non-allowlisted"):
        policy(position_quantity_limits={"DOGE": D(1)})


def test_trading_window_refuses_an_empty_or_numeric_window() -> None:
    with pytest.raises(ValidationError, match="ambiguous"):
        TradingWindow.model_validate({"start": "08:00", "end": "08:00"})
    with pytest.raises(ValidationError, match="quote it in YAML"):
        TradingWindow.model_validate({"start": "08:00", "end": 1320})


def test_trading_window_after_the_end_of_the_calendar_is_closed_not_a_crash() -> None:
    window = TradingWindow.model_validate({"start": "00:00", "end": "23:59"})
    assert window.is_open(253_402_300_000)  # 9999-12-31, a Friday
    assert not window.is_open(2**64 - 1)  # past year 9999: fail closed
