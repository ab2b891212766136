"""Implied volatility: round trips through the price, Hull's example, and prices outside the
no-arbitrage bounds refused with the bounds named."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from zkrisk.engine.risk.instruments.black_scholes import bs_price
from zkrisk.engine.risk.instruments.greeks import bs_greeks
from zkrisk.engine.risk.instruments.implied_vol import (
    MAX_VOL,
    ImpliedVolError,
    implied_vol,
    no_arbitrage_bounds,
)


def test_hulls_call_price_gives_back_its_20_percent_vol() -> None:
    price = bs_price(42, 40, 0.5, 0.1, 0.2, "call")
    assert implied_vol(price, 42, 40, 0.5, 0.1, "call") == pytest.approx(0.2, abs=1e-12)
    put = bs_price(42, 40, 0.5, 0.1, 0.2, "put")
    assert implied_vol(put, 42, 40, 0.5, 0.1, "put") == pytest.approx(0.2, abs=1e-12)


@given(
    st.floats(20.0, 200.0),
    st.floats(0.6, 1.6),
    st.floats(0.02, 4.0),
    st.floats(-0.02, 0.15),
    st.floats(0.03, 4.0),
    st.sampled_from(["call", "put"]),
)
def test_implied_vol_inverts_the_price(
    s: float, m: float, t: float, r: float, v: float, kind: str
) -> None:
    k = s * m
    price = bs_price(s, k, t, r, v, kind)  # type: ignore[arg-type]
    vega = bs_greeks(s, k, t, r, v, kind).vega  # type: ignore[arg-type]
    assume(vega > 1e-3 * s)  # elsewhere σ is not identifiable from a float price
    solved = implied_vol(price, s, k, t, r, kind)  # type: ignore[arg-type]
    assert bs_price(s, k, t, r, solved, kind) == pytest.approx(price, abs=1e-11 * (s + k))  # type: ignore[arg-type]
    assert solved == pytest.approx(v, abs=1e-8)


def test_a_price_at_the_lower_bound_has_zero_vol() -> None:
    lower, _ = no_arbitrage_bounds(42, 40, 0.5, 0.1, "call")
    assert lower == pytest.approx(42 - 40 * math.exp(-0.05))
    assert implied_vol(lower, 42, 40, 0.5, 0.1, "call") == 0.0


@pytest.mark.parametrize(
    ("price", "kind"),
    [
        (3.9, "call"),
        (42.0, "call"),
        (50.0, "call"),
        (-0.1, "put"),
        (38.1, "put"),
        (math.nan, "put"),
    ],
)
def test_a_price_outside_the_no_arbitrage_bounds_is_refused_naming_them(
    price: float, kind: str
) -> None:
    with pytest.raises(
        ImpliedVolError,
        match=r"outside the no-arbitrage bounds \[[0-9.]+, [0-9.]+\) for .*: no volatility",
    ):
        implied_vol(price, 42, 40, 0.5, 0.1, kind)  # type: ignore[arg-type]


def test_at_expiry_only_the_intrinsic_value_is_a_price() -> None:
    assert implied_vol(2.0, 42, 40, 0.0, 0.1, "call") == 0.0
    with pytest.raises(ImpliedVolError, match="at expiry"):
        implied_vol(2.5, 42, 40, 0.0, 0.1, "call")


def test_a_price_needing_more_than_the_vol_cap_is_refused_naming_the_cap() -> None:
    # One hour to expiry: even σ = MAX_VOL leaves the call well below the spot.
    t = 1 / (365 * 24)
    assert bs_price(42, 40, t, 0.1, MAX_VOL, "call") < 41.99
    with pytest.raises(ImpliedVolError, match="needs a volatility above 100"):
        implied_vol(41.99, 42, 40, t, 0.1, "call")


def test_bad_market_inputs_are_refused_before_solving() -> None:
    with pytest.raises(ValueError, match="spot=-42"):
        implied_vol(1.0, -42, 40, 0.5, 0.1, "call")
    with pytest.raises(ValueError, match="not one of"):
        implied_vol(1.0, 42, 40, 0.5, 0.1, "forward")  # type: ignore[arg-type]
