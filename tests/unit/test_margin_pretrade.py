"""The pre-trade gate's portfolio-margin rule: post-trade SPAN requirement ≤ margin held."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from zkrisk.engine.risk.checks import ReasonCode, RiskEngine
from zkrisk.engine.risk.margin.arrays import RiskArray, RiskArraySet

from .risk_fixtures import ASSETS, SCENARIOS, book, order, policy, snapshot, state

D = Decimal
# Two scenarios, price up / down; the default book (10 WETH, 200,000 USDC, −1 WBTC) loses
# 8,000 in the up move; after BUY 1 WETH (paid in USDC) it loses 7,800.
ARRAYS = RiskArraySet(
    scenarios=("up", "down"),
    instruments=(
        RiskArray(symbol="WETH", pnl=(D(200), D(-200))),
        RiskArray(symbol="WBTC", pnl=(D(10_000), D(-10_000))),
        RiskArray(symbol="USDC", pnl=(D(0), D(0))),
    ),
    collateral={"USDC": D(1)},
)


def codes(arrays: RiskArraySet | None, margin: str, **book_kw: Any) -> list[str]:
    engine = RiskEngine(policy(), ASSETS, SCENARIOS, risk_arrays=arrays)
    portfolio = book(margin=D(margin), margin_symbol="USDC", **book_kw)
    verdict = engine.check(order(), portfolio, snapshot(), state())
    return [r.code for r in verdict.reasons]


def test_order_when_margin_covers_the_post_trade_requirement_exactly_then_passes() -> None:
    assert codes(ARRAYS, "7800") == []


def test_order_when_margin_is_one_cent_short_of_the_requirement_then_rejects() -> None:
    assert codes(ARRAYS, "7799.99") == [ReasonCode.PORTFOLIO_MARGIN]


def test_rejection_names_the_requirement_the_worst_scenario_and_the_margin() -> None:
    engine = RiskEngine(policy(), ASSETS, SCENARIOS, risk_arrays=ARRAYS)
    verdict = engine.check(order(), book(margin=D(100), margin_symbol="USDC"), snapshot(), state())
    (reason,) = verdict.reasons
    assert reason.message == (
        "Post-trade portfolio-margin requirement $7,800.00 (worst scenario: up) exceeds the "
        "margin held $100.00."
    )


def test_without_risk_arrays_the_margin_rule_is_not_applied() -> None:
    assert codes(None, "0") == []


def test_a_book_instrument_without_a_risk_array_rejects_fail_closed() -> None:
    positions = {"WETH": "10", "USDC": "200000", "WBTC": "-1", "LINK": "5"}
    assert codes(ARRAYS, "10000", positions=positions) == [ReasonCode.RISK_ARRAY_MISSING]


def test_a_margin_asset_that_is_not_accepted_collateral_rejects_fail_closed() -> None:
    arrays = ARRAYS.model_copy(update={"collateral": {}})
    no_collateral = RiskArraySet.model_validate(arrays.model_dump())
    assert codes(no_collateral, "10000") == [ReasonCode.RISK_ARRAY_MISSING]
