"""Pre-trade checks: every rule's pass, fail and boundary (exactly at the limit, one unit over)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from zkrisk.engine.risk import fixed_point as fp
from zkrisk.engine.risk.checks import ReasonCode as C
from zkrisk.engine.risk.checks import RiskEngine
from zkrisk.engine.risk.metrics.var import historical_es_fixed, historical_var_fixed
from zkrisk.engine.risk.models import ScenarioSet, TradingState, TradingWindow, VerdictKind

from .risk_fixtures import (
    ASSETS,
    NOW,
    SCENARIOS,
    book,
    codes,
    engine,
    order,
    policy,
    snapshot,
    state,
)

D = Decimal
QTY_UNIT = D("0.00000001")  # one unit of the last place at QTY / PRICE scale


def test_check_when_every_rule_passes_then_approves_without_reasons() -> None:
    verdict = engine().check(order(), book(), snapshot(), state())
    assert verdict.kind is VerdictKind.APPROVE
    assert verdict.reasons == ()
    assert verdict.client_order_id == "c-1"
    assert verdict.policy_id == "test/1"
    assert verdict.post_trade_health_factor_bps == 22_000  # (22,000 + 198,000) / 100,000


def test_check_when_several_rules_fail_then_reports_every_reason_in_rule_order() -> None:
    found = codes(
        policy={"max_order_quantity": D(1), "counterparties": ("other",), "max_slippage_bps": 0},
        order={"quantity": D(2), "limit_price": D(2001)},
        st=state(trading_state=TradingState.HALTED),
    )
    assert found == (
        C.TRADING_HALTED,
        C.COUNTERPARTY_NOT_ALLOWED,
        C.MAX_ORDER_QUANTITY,
        C.SLIPPAGE,
    )


def test_reject_reasons_carry_a_human_sentence() -> None:
    verdict = engine(max_order_quantity=D(1)).check(
        order(quantity=D(2)), book(), snapshot(), state()
    )
    assert verdict.kind is VerdictKind.REJECT
    (reason,) = verdict.reasons
    assert reason.blocking and "exceeds the maximum 1" in reason.message


# -- order size and notional ----------------------------------------------------------------


def test_order_size_exactly_at_the_maximum_passes() -> None:
    assert C.MAX_ORDER_QUANTITY not in codes(policy={"max_order_quantity": D(1)})


def test_order_size_one_unit_over_the_maximum_rejects() -> None:
    found = codes(policy={"max_order_quantity": D(1)}, order={"quantity": 1 + QTY_UNIT})
    assert C.MAX_ORDER_QUANTITY in found


def test_order_notional_exactly_at_the_maximum_passes() -> None:
    assert C.MAX_ORDER_NOTIONAL not in codes(policy={"max_order_notional_usd": D(2000)})


def test_order_notional_one_unit_over_the_maximum_rejects() -> None:
    limit = D(2000) - D("1e-16")
    assert C.MAX_ORDER_NOTIONAL in codes(policy={"max_order_notional_usd": limit})


def test_order_notional_uses_the_reference_when_a_sell_limit_is_below_it() -> None:
    # SELL 1 @ 1900 against a 2000 reference: notional is priced at the higher 2000.
    found = codes(
        policy={"max_order_notional_usd": D(1999)},
        order={"side": "SELL", "limit_price": D(1900)},
    )
    assert C.MAX_ORDER_NOTIONAL in found


def test_market_buy_notional_is_priced_at_the_slippage_bound() -> None:
    intent = order(order_type="MARKET", limit_price=None, max_slippage_bps=100)
    # Worst price 2000 · 1.01 = 2020.
    ok = codes(policy={"max_order_notional_usd": D(2020)}, intent=intent)
    over = codes(policy={"max_order_notional_usd": D("2019.99")}, intent=intent)
    assert C.MAX_ORDER_NOTIONAL not in ok
    assert C.MAX_ORDER_NOTIONAL in over


# -- position limit -------------------------------------------------------------------------


def test_position_exactly_at_the_limit_after_the_trade_passes() -> None:
    assert C.POSITION_LIMIT not in codes(policy={"max_position_quantity": D(11)})


def test_position_one_unit_over_the_limit_after_the_trade_rejects() -> None:
    found = codes(policy={"max_position_quantity": D(11) - QTY_UNIT})
    assert C.POSITION_LIMIT in found


def test_short_position_limit_applies_to_the_magnitude() -> None:
    # 10 WETH, SELL 21 → -11.
    sell = {"side": "SELL", "quantity": D(21)}
    assert C.POSITION_LIMIT not in codes(policy={"max_position_quantity": D(11)}, order=sell)
    assert C.POSITION_LIMIT in codes(policy={"max_position_quantity": D(11) - QTY_UNIT}, order=sell)


def test_per_symbol_position_limit_overrides_the_default() -> None:
    found = codes(policy={"position_quantity_limits": {"WETH": D(5)}})
    assert C.POSITION_LIMIT in found


# -- exposure and concentration -------------------------------------------------------------

# After BUY 1 WETH @ 2000: WETH 22,000, USDC 198,000, WBTC -100,000 → gross 320,000, net 120,000.


def test_gross_exposure_exactly_at_the_cap_passes() -> None:
    assert C.GROSS_EXPOSURE not in codes(policy={"max_gross_exposure_usd": D(320_000)})


def test_gross_exposure_one_unit_over_the_cap_rejects() -> None:
    cap = D(320_000) - D("1e-16")
    assert C.GROSS_EXPOSURE in codes(policy={"max_gross_exposure_usd": cap})


def test_net_exposure_exactly_at_the_cap_passes() -> None:
    assert C.NET_EXPOSURE not in codes(policy={"max_net_exposure_usd": D(120_000)})


def test_net_exposure_one_unit_over_the_cap_rejects() -> None:
    cap = D(120_000) - D("1e-16")
    assert C.NET_EXPOSURE in codes(policy={"max_net_exposure_usd": cap})


def test_concentration_exactly_at_the_cap_passes() -> None:
    # Largest asset: USDC 198,000 / 320,000 = 61.875 % → 6187.5 bps; cap 6188 passes.
    assert C.CONCENTRATION not in codes(policy={"max_concentration_bps": 6_188})


def test_concentration_just_over_the_cap_rejects_naming_the_asset() -> None:
    verdict = engine(max_concentration_bps=6_187).check(order(), book(), snapshot(), state())
    (reason,) = [r for r in verdict.reasons if r.code == C.CONCENTRATION]
    assert reason.message.startswith("USDC")


def test_concentration_exactly_at_the_share_passes_and_one_bps_lower_cap_rejects() -> None:
    # After BUY 1 WETH: WETH 22,000 and USDC 18,000 → WETH is exactly 5,500 bps of 40,000.
    even = book({"WETH": "10", "USDC": "20000"})
    assert C.CONCENTRATION not in codes(policy={"max_concentration_bps": 5_500}, portfolio=even)
    assert C.CONCENTRATION in codes(policy={"max_concentration_bps": 5_499}, portfolio=even)


def test_concentration_is_not_enforced_below_the_minimum_gross() -> None:
    found = codes(
        policy={"max_concentration_bps": 1_000, "concentration_min_gross_usd": D(320_000) + 1}
    )
    assert C.CONCENTRATION not in found
    enforced = codes(
        policy={"max_concentration_bps": 1_000, "concentration_min_gross_usd": D(320_000)}
    )
    assert C.CONCENTRATION in enforced


# -- price band and slippage ----------------------------------------------------------------


@pytest.mark.parametrize("side,limit", [("BUY", D(2100)), ("SELL", D(1900))])
def test_limit_price_exactly_at_the_band_edge_passes(side: str, limit: Decimal) -> None:
    found = codes(policy={"price_band_bps": 500}, order={"side": side, "limit_price": limit})
    assert C.PRICE_BAND not in found


@pytest.mark.parametrize("side,limit", [("BUY", D(2100) + QTY_UNIT), ("SELL", D(1900) - QTY_UNIT)])
def test_limit_price_one_unit_outside_the_band_rejects_as_fat_finger(
    side: str, limit: Decimal
) -> None:
    found = codes(policy={"price_band_bps": 500}, order={"side": side, "limit_price": limit})
    assert C.PRICE_BAND in found


def test_buy_limit_exactly_at_the_slippage_tolerance_passes() -> None:
    found = codes(policy={"max_slippage_bps": 50}, order={"limit_price": D(2010)})
    assert C.SLIPPAGE not in found


def test_buy_limit_one_unit_beyond_the_slippage_tolerance_rejects() -> None:
    found = codes(policy={"max_slippage_bps": 50}, order={"limit_price": D(2010) + QTY_UNIT})
    assert C.SLIPPAGE in found


def test_sell_limit_above_the_reference_is_not_slippage() -> None:
    found = codes(policy={"max_slippage_bps": 0}, order={"side": "SELL", "limit_price": D(2100)})
    assert C.SLIPPAGE not in found


def test_market_order_tolerance_at_the_maximum_passes_and_one_bps_over_rejects() -> None:
    at = order(order_type="MARKET", limit_price=None, max_slippage_bps=50)
    over = order(order_type="MARKET", limit_price=None, max_slippage_bps=51)
    assert C.SLIPPAGE not in codes(policy={"max_slippage_bps": 50}, intent=at)
    assert C.SLIPPAGE in codes(policy={"max_slippage_bps": 50}, intent=over)


# -- trading window and state ---------------------------------------------------------------

DAY_START = NOW - NOW % 86_400  # Tuesday 00:00 UTC


def window_codes(now: int, **window: object) -> tuple[str, ...]:
    tw = TradingWindow.model_validate(window)
    return codes(policy={"trading_window": tw}, st=state(now=now), prices=snapshot(stamp=now))


def test_order_at_the_window_opening_passes() -> None:
    found = window_codes(DAY_START + 8 * 3600, start="08:00", end="17:00")
    assert C.OUTSIDE_TRADING_WINDOW not in found


def test_order_one_second_before_the_window_opens_rejects() -> None:
    found = window_codes(DAY_START + 8 * 3600 - 1, start="08:00", end="17:00")
    assert C.OUTSIDE_TRADING_WINDOW in found


def test_order_at_the_window_closing_time_rejects() -> None:
    found = window_codes(DAY_START + 17 * 3600, start="08:00", end="17:00")
    assert C.OUTSIDE_TRADING_WINDOW in found


def test_overnight_window_is_open_after_midnight() -> None:
    found = window_codes(DAY_START + 3600, start="22:00", end="02:00")
    assert C.OUTSIDE_TRADING_WINDOW not in found
    assert C.OUTSIDE_TRADING_WINDOW in window_codes(
        DAY_START + 3 * 3600, start="22:00", end="02:00"
    )


def test_order_on_a_day_outside_the_window_days_rejects() -> None:
    # DAY_START is a Tuesday (ISO 2).
    assert C.OUTSIDE_TRADING_WINDOW in window_codes(DAY_START + 9 * 3600, start="08:00",
                                                    end="17:00", days=[1, 3])  # fmt: skip


def test_halted_state_rejects_every_order_even_a_reducing_one() -> None:
    found = codes(order={"side": "SELL"}, st=state(trading_state=TradingState.HALTED))
    assert C.TRADING_HALTED in found


@pytest.mark.parametrize("side,quantity", [("SELL", "1"), ("SELL", "10")])
def test_reducing_state_lets_an_order_that_shrinks_the_position_pass(
    side: str, quantity: str
) -> None:
    found = codes(order={"side": side, "quantity": D(quantity)},
                  st=state(trading_state=TradingState.REDUCING))  # fmt: skip
    assert C.REDUCING_ONLY not in found


@pytest.mark.parametrize("side,quantity", [("BUY", "1"), ("SELL", "10.00000001"), ("SELL", "20")])
def test_reducing_state_rejects_an_order_that_grows_or_flips_the_position(
    side: str, quantity: str
) -> None:
    found = codes(order={"side": side, "quantity": D(quantity)},
                  st=state(trading_state=TradingState.REDUCING))  # fmt: skip
    assert C.REDUCING_ONLY in found


def test_reducing_state_rejects_opening_a_new_position() -> None:
    found = codes(order={"symbol": "LINK", "limit_price": D(10)},
                  st=state(trading_state=TradingState.REDUCING))  # fmt: skip
    assert C.REDUCING_ONLY in found


# -- allowlists and rate limit --------------------------------------------------------------


def test_instrument_off_the_allowlist_rejects() -> None:
    assert C.INSTRUMENT_NOT_ALLOWED in codes(policy={"instruments": ("WBTC",)})


def test_counterparty_off_the_allowlist_rejects() -> None:
    assert C.COUNTERPARTY_NOT_ALLOWED in codes(order={"counterparty": "venue-b"})


def test_unknown_symbol_rejects_as_unknown_asset_and_missing_price() -> None:
    found = codes(policy={"instruments": ("WETH", "DOGE")}, order={"symbol": "DOGE"})
    assert C.UNKNOWN_ASSET in found and C.PRICE_MISSING in found


def test_rate_limit_allows_the_last_order_that_fits_the_window() -> None:
    recent = (NOW - 9, NOW - 5)
    found = codes(policy={"max_orders_per_window": 3}, st=state(recent_order_times=recent))
    assert C.RATE_LIMIT not in found


def test_rate_limit_rejects_one_order_over() -> None:
    recent = (NOW - 9, NOW - 5, NOW)
    found = codes(policy={"max_orders_per_window": 3}, st=state(recent_order_times=recent))
    assert C.RATE_LIMIT in found


def test_rate_limit_forgets_orders_exactly_one_window_old() -> None:
    recent = (NOW - 10, NOW - 5, NOW)
    found = codes(policy={"max_orders_per_window": 3}, st=state(recent_order_times=recent))
    assert C.RATE_LIMIT not in found


def test_rate_limit_counts_unordered_times_and_ignores_future_ones() -> None:
    # callers pass times in any order; a time after `now` (clock skew) is not in the window
    inside = (NOW, NOW - 5, NOW - 9)
    over = codes(policy={"max_orders_per_window": 3},
                 st=state(recent_order_times=(NOW + 3, *inside, NOW - 10)))  # fmt: skip
    assert C.RATE_LIMIT in over
    fits = codes(policy={"max_orders_per_window": 3},
                 st=state(recent_order_times=(NOW + 3, NOW - 5, NOW - 10, NOW - 9)))  # fmt: skip
    assert C.RATE_LIMIT not in fits


# -- market data fails closed ---------------------------------------------------------------


def test_order_without_a_price_rejects() -> None:
    partial = snapshot({"USDC": D(1), "WBTC": D(100_000), "LINK": D(10)})
    verdict = engine().check(order(), book(), partial, state())
    assert verdict.kind is VerdictKind.REJECT
    assert C.PRICE_MISSING in verdict.codes


def test_price_exactly_at_the_maximum_age_passes() -> None:
    assert C.PRICE_STALE not in codes(prices=snapshot(stamp=NOW - 60))


def test_price_one_second_older_than_the_maximum_age_rejects() -> None:
    found = codes(prices=snapshot(stamp=NOW - 61))
    assert found.count(C.PRICE_STALE) == 3  # WETH (order), USDC (quote), WBTC (book), once each


def test_price_from_beyond_the_clock_skew_rejects() -> None:
    assert C.PRICE_FROM_FUTURE not in codes(prices=snapshot(stamp=NOW + 5))
    assert C.PRICE_FROM_FUTURE in codes(prices=snapshot(stamp=NOW + 6))


def test_book_position_in_an_unknown_asset_rejects() -> None:
    odd = book({"WETH": "1", "USDC": "1000", "PEPE": "5"})
    prices = snapshot({"USDC": D(1), "WETH": D(2000), "PEPE": D(1)})
    verdict = engine().check(order(), odd, prices, state())
    assert verdict.kind is VerdictKind.REJECT
    assert "Book position PEPE is not a known asset." in [r.message for r in verdict.reasons]


def test_book_position_without_a_price_rejects() -> None:
    partial = snapshot({"USDC": D(1), "WETH": D(2000), "LINK": D(10)})
    verdict = engine().check(order(), book(), partial, state())
    assert verdict.kind is VerdictKind.REJECT
    assert "No price for book position WBTC." in [r.message for r in verdict.reasons]


def test_missing_quote_price_rejects() -> None:
    partial = snapshot({"WETH": D(2000), "WBTC": D(100_000), "LINK": D(10)})
    assert C.PRICE_MISSING in codes(prices=partial)


# -- health factor --------------------------------------------------------------------------


def test_post_trade_health_factor_exactly_at_the_minimum_passes() -> None:
    assert C.HEALTH_FACTOR not in codes(policy={"min_health_factor_bps": 22_000})


def test_post_trade_health_factor_one_bps_below_the_minimum_rejects() -> None:
    assert C.HEALTH_FACTOR in codes(policy={"min_health_factor_bps": 22_001})


def test_borrowing_that_drops_health_below_one_rejects() -> None:
    # Short 100 WETH more: debt +200,000 with the proceeds as USDC collateral → HF ~1.39…
    short = {"side": "SELL", "quantity": D(110), "limit_price": D(2000)}
    found = codes(policy={"min_health_factor_bps": 15_000}, order=short)
    assert C.HEALTH_FACTOR in found


def test_margin_in_the_vault_counts_toward_health() -> None:
    with_margin = book(margin=D(1), margin_symbol="USDC")  # +1 USDC weighted
    assert C.HEALTH_FACTOR not in codes(policy={"min_health_factor_bps": 22_000},
                                        portfolio=with_margin)  # fmt: skip
    verdict = engine().check(order(), with_margin, snapshot(), state())
    assert verdict.post_trade_health_factor_bps == 22_000  # 220,001 / 100,000 floors to 2.2


def test_book_without_debt_reports_no_health_factor_and_passes() -> None:
    verdict = engine(min_health_factor_bps=60_000).check(
        order(), book({"WETH": "1", "USDC": "5000"}), snapshot(), state()
    )
    assert verdict.post_trade_health_factor_bps is None
    assert C.HEALTH_FACTOR not in verdict.codes


# -- VaR and ES -----------------------------------------------------------------------------

# Post-trade losses over SCENARIOS: (-2,800, 560, 3,220); α = 50 % → w = K(1 − α) = 1.5, m = 1
# → VaR = 560, Acerbi–Tasche ES = (3,220 + 0.5 · 560) / 1.5 = 2,333.33… (3 repeating).
ES_CEIL = D(23_333_333_333_333_333_333_333_334).scaleb(-fp.LOSS_DECIMALS)  # ⌈ES⌉ at LOSS scale


def test_post_trade_var_exactly_at_the_limit_passes() -> None:
    verdict = engine(max_var_usd=D(560)).check(order(), book(), snapshot(), state())
    assert C.VAR_LIMIT not in verdict.codes
    assert verdict.post_trade_var_usd == D(560)


def test_post_trade_var_one_unit_over_the_limit_rejects() -> None:
    limit = D(560) - D(1).scaleb(-fp.LOSS_DECIMALS)
    assert C.VAR_LIMIT in codes(policy={"max_var_usd": limit})


def test_post_trade_es_exactly_at_the_limit_passes_and_one_unit_under_rejects() -> None:
    assert C.ES_LIMIT not in codes(policy={"max_es_usd": ES_CEIL})
    under = ES_CEIL - D(1).scaleb(-fp.LOSS_DECIMALS)
    assert C.ES_LIMIT in codes(policy={"max_es_usd": under})


def test_post_trade_es_above_the_old_tail_mean_rejects() -> None:
    # (3,220 + 560) / 2 = 1,890 was the ES before issue 14: a limit there is now breached.
    assert C.ES_LIMIT in codes(policy={"max_es_usd": D(1890)})
    assert C.ES_LIMIT in codes(policy={"max_es_usd": D(2333)})  # far side of the float screen
    assert C.ES_LIMIT not in codes(policy={"max_es_usd": D(2334)})


def test_var_far_from_the_limit_is_decided_by_the_float_screen() -> None:
    assert C.VAR_LIMIT in codes(policy={"max_var_usd": D(100)})
    assert C.VAR_LIMIT not in codes(policy={"max_var_usd": D(1000)})


def test_engine_var_matches_the_exact_integer_path() -> None:
    verdict = engine(max_var_usd=D(10**6)).check(order(), book(), snapshot(), state())
    quantities = [fp.to_qty(q) for q in ("198000", "11", "-1", "0")]
    prices = [fp.to_price(p) for p in ("1", "2000", "100000", "10")]
    from zkrisk.engine.risk.metrics.var import scenario_losses_fixed

    losses = scenario_losses_fixed(quantities, prices, SCENARIOS.returns_fixed)
    exact = fp.from_fixed(historical_var_fixed(losses, D("0.5")), fp.LOSS_DECIMALS)
    assert verdict.post_trade_var_usd == exact
    assert historical_es_fixed(losses, D("0.5")) == 23_333_333_333_333_333_333_333_333


def test_engine_without_scenarios_fails_closed() -> None:
    verdict = RiskEngine(policy(), ASSETS, None).check(order(), book(), snapshot(), state())
    assert verdict.kind is VerdictKind.REJECT
    assert C.SCENARIOS_MISSING in verdict.codes


def test_scenario_set_missing_a_book_asset_fails_closed() -> None:
    narrow = ScenarioSet(symbols=("USDC", "WETH"), returns=((D(0), D("-0.1")),))
    verdict = engine(scenarios=narrow).check(order(), book(), snapshot(), state())
    assert C.SCENARIOS_MISSING in verdict.codes
    assert "WBTC" in verdict.reasons[-1].message


# -- review flags ---------------------------------------------------------------------------


def test_order_above_the_review_notional_is_flagged_not_rejected() -> None:
    verdict = engine(review_order_notional_usd=D(1999)).check(order(), book(), snapshot(), state())
    assert verdict.kind is VerdictKind.FLAG_FOR_REVIEW
    assert verdict.codes == (C.REVIEW_ORDER_NOTIONAL,)
    assert not verdict.reasons[0].blocking


def test_order_exactly_at_the_review_notional_is_approved() -> None:
    verdict = engine(review_order_notional_usd=D(2000)).check(order(), book(), snapshot(), state())
    assert verdict.kind is VerdictKind.APPROVE


def test_health_below_the_review_level_is_flagged() -> None:
    verdict = engine(review_health_factor_bps=22_001).check(order(), book(), snapshot(), state())
    assert verdict.kind is VerdictKind.FLAG_FOR_REVIEW
    assert verdict.codes == (C.REVIEW_HEALTH_FACTOR,)


def test_blocking_reason_wins_over_a_review_flag() -> None:
    verdict = engine(review_order_notional_usd=D(1), max_order_quantity=D("0.5")).check(
        order(), book(), snapshot(), state()
    )
    assert verdict.kind is VerdictKind.REJECT
    assert set(verdict.codes) == {C.MAX_ORDER_QUANTITY, C.REVIEW_ORDER_NOTIONAL}


# -- the book cache -------------------------------------------------------------------------


def test_engine_revalues_a_different_book_object_rather_than_reusing_a_cached_one() -> None:
    eng = engine(min_health_factor_bps=20_000)
    assert eng.check(order(), book(), snapshot(), state()).approved
    weaker = book({"WETH": "10", "USDC": "100000", "WBTC": "-1"})  # HF 1.2
    assert C.HEALTH_FACTOR in eng.check(order(), weaker, snapshot(), state()).codes


def test_engine_rejects_duplicate_assets() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        RiskEngine(policy(), [*ASSETS, ASSETS[0]], SCENARIOS)


def test_an_order_past_the_largest_notional_is_rejected_with_its_reason_not_an_exception() -> None:
    """An API client or a strategy can send any quantity and limit the models accept; their
    product can pass what the USD figures can hold (the check used to raise InvalidOperation:
    a 500 from the service, a crashed pre-trade stage in the runner)."""
    widest_qty = (D(2**fp.QTY_BITS - 1) * QTY_UNIT).quantize(QTY_UNIT)
    verdict = engine().check(
        order(quantity=widest_qty, limit_price=D("1e10")), book(), snapshot(), state()
    )
    assert verdict.kind is VerdictKind.REJECT
    assert [r.code for r in verdict.reasons] == [C.ORDER_OUT_OF_RANGE]
    assert f"{fp.MAX_NOTIONAL_USD:,}" in verdict.reasons[0].message
    at_limit = D(fp.MAX_NOTIONAL_USD) / D("1e10") - QTY_UNIT  # just under: judged as usual
    found = codes(order={"quantity": at_limit, "limit_price": D("1e10")})
    assert C.ORDER_OUT_OF_RANGE not in found and C.MAX_ORDER_NOTIONAL in found
