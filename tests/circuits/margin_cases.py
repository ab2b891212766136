"""PortfolioMargin(4, 8) statements built by the engine: a hedged BTC book on SPAN arrays."""

from __future__ import annotations

from dataclasses import replace
from functools import cache

from zkrisk.engine.risk.margin.scenarios import (
    linear_value,
    option_value,
    risk_array,
    span_scenarios,
)
from zkrisk.engine.statements.book_slots import BookSlots
from zkrisk.engine.statements.portfolio_margin import PortfolioMarginStatement

CIRCUIT = "margin4x8"
SLOTS, SCENARIOS = 4, 8
COIN = 10**8
USD = 10**8
VALUE = COIN * USD  # one USD at VALUE scale


@cache
def base_arrays() -> tuple[tuple[int, ...], ...]:
    """BTC perp, BTC 95k call, ETH perp, an empty slot: span_scenarios(steps=1) has 8."""
    grid = span_scenarios(steps=1)
    assert len(grid) == SCENARIOS
    return (
        risk_array(linear_value, 90_000.0, 0.55, 9_000.0, 0.05, grid),
        risk_array(option_value(95_000.0, 30 / 365, 0.04, "call"), 90_000.0, 0.55, 9_000.0,
                   0.05, grid),
        risk_array(linear_value, 3_000.0, 0.65, 360.0, 0.05, grid),
        (0,) * SCENARIOS,
    )  # fmt: skip


def statement(
    long: tuple[int, ...] = (2 * COIN, 0, 0, 0),
    short: tuple[int, ...] = (0, 2 * COIN, 10 * COIN, 0),
    *,
    margin_held: int = 30_000 * VALUE,
    minimums: tuple[int, ...] = (0, 900 * USD, 0, 0),
    arrays: tuple[tuple[int, ...], ...] | None = None,
) -> PortfolioMarginStatement:
    book = BookSlots(account=0xDE5C0001, salt=0x5A17, long=long, short=short)
    return PortfolioMarginStatement(
        book=book, arrays=arrays or base_arrays(), minimums=minimums, margin_held=margin_held,
        binding=0xB1D,
    )  # fmt: skip


def at_requirement(s: PortfolioMarginStatement, offset: int = 0) -> PortfolioMarginStatement:
    return replace(s, margin_held=s.requirement() + offset)
