"""Perpetual futures: premium, funding, mark, margin, P&L and liquidation price, exact."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkrisk.engine.risk.instruments.perpetual import (
    funding_payment,
    funding_rate,
    initial_margin,
    liquidation_price,
    maintenance_margin,
    mark_price,
    premium_index,
    unrealised_pnl,
)

D = Decimal


def test_premium_is_the_impact_quotes_distance_from_the_index() -> None:
    assert premium_index(D(3000), D(3003), D(3006)) == D("0.001")  # book trades above
    assert premium_index(D(3000), D(2991), D(2994)) == D("-0.002")  # book trades below
    assert premium_index(D(3000), D(2999), D(3001)) == 0  # index inside the spread


def test_funding_is_the_premium_plus_the_clamped_interest_gap() -> None:
    assert funding_rate(D("0.0003")) == D("0.0001")  # |I − P| < c: F = I
    assert funding_rate(D("0.002")) == D("0.0015")  # P above: F = P − c
    assert funding_rate(D("-0.002")) == D("-0.0015")  # P below: F = P + c
    assert funding_rate(D(0), interest_rate=D(0), clamp=D(0)) == 0


def test_longs_pay_shorts_when_funding_is_positive() -> None:
    assert funding_payment(D(10), D(3000), D("0.0001")) == D(3)  # the long pays 3 USD
    assert funding_payment(D(-10), D(3000), D("0.0001")) == D(-3)  # the short receives 3 USD
    assert funding_payment(D(10), D(3000), D("-0.0001")) == D(-3)  # negative: shorts pay


def test_mark_is_the_index_clamped_into_the_impact_quotes() -> None:
    assert mark_price(D(3000), D(2999), D(3001)) == D(3000)
    assert mark_price(D(3000), D(3003), D(3006)) == D(3003)
    assert mark_price(D(3000), D(2991), D(2994)) == D(2994)


def test_pnl_and_margins_follow_the_signed_quantity() -> None:
    assert unrealised_pnl(D(-5), D(3000), D(2900)) == D(500)  # a short gains as the mark falls
    assert unrealised_pnl(D(5), D(3000), D(2900)) == D(-500)
    assert initial_margin(D(-5), D(3000), D("0.1")) == D(1500)
    assert maintenance_margin(D(-5), D(3000), D("0.005")) == D(75)


@given(
    st.decimals(D("0.001"), D(1000), places=3),
    st.decimals(D(100), D(100_000), places=2),
    st.decimals(D(0), D(50_000), places=2),
    st.decimals(D("0.001"), D("0.2"), places=3),
    st.booleans(),
)
def test_at_the_liquidation_price_equity_equals_maintenance_margin(
    size: Decimal, entry: Decimal, collateral: Decimal, mm: Decimal, long: bool
) -> None:
    q = size if long else -size
    price = liquidation_price(q, entry, collateral, mm)
    if price is None:  # a long whose collateral covers its whole entry value
        assert long and collateral >= size * entry
        return
    equity = collateral + unrealised_pnl(q, entry, price)
    assert equity == pytest.approx(maintenance_margin(q, price, mm), abs=D("1e-18") * entry * size)
    # A position opened above maintenance liquidates on its adverse side of the entry.
    if collateral >= maintenance_margin(q, entry, mm):
        assert (price <= entry) if long else (price >= entry)


def test_a_flat_position_has_no_liquidation_price() -> None:
    assert liquidation_price(D(0), D(3000), D(100), D("0.005")) is None


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: premium_index(D(0), D(1), D(2)), "index=0 must be a positive price"),
        (lambda: premium_index(D(3000), D(3002), D(3001)), "impact_bid 3002 is above impact_ask"),
        (lambda: mark_price(D(3000), D(3002), D(3001)), "impact_bid 3002 is above impact_ask"),
        (lambda: funding_rate(D(0), clamp=D(-1)), "clamp=-1 must be ≥ 0"),
        (lambda: initial_margin(D(1), D(3000), D(0)), r"im_rate=0 must lie in \(0, 1\]"),
        (lambda: maintenance_margin(D(1), D(3000), D("1.5")), r"mm_rate=1.5 must lie in \(0, 1\]"),
        (lambda: unrealised_pnl(D(1), D(-1), D(3000)), "entry_price=-1 must be a positive"),
        (lambda: liquidation_price(D(1), D(3000), D(-5), D("0.01")), "collateral=-5 must be ≥ 0"),
        (lambda: liquidation_price(D(1), D(3000), D(5), D(1)), "mm_rate=1 leaves no liquidation"),
        (lambda: funding_payment(D(1), D("NaN"), D("0.01")), "mark=NaN must be a positive"),
    ],
)
def test_bad_perp_inputs_are_refused_by_name(call: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()  # type: ignore[operator]
