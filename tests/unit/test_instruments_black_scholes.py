"""Black–Scholes prices: Hull's worked examples against an exact reference, put–call parity,
the vectorised form against the scalar one, limits at expiry and zero vol, and bad input."""

from __future__ import annotations

import math
import re
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.instruments_reference import reference
from zkrisk.engine.risk.instruments.black_scholes import bs_price, bs_price_array

HULL_BSM = ("42", "40", "0.5", "0.1", "0.2")  # Hull's BSM example: c = 4.76, p = 0.81
HULL_GREEKS = ("49", "50", "0.3846", "0.05", "0.2")  # Hull's running Greeks example


def _floats(args: tuple[str, ...]) -> tuple[float, ...]:
    return tuple(float(a) for a in args)


@pytest.mark.parametrize("example", [HULL_BSM, HULL_GREEKS])
def test_price_matches_the_exact_reference_to_1e_10(example: tuple[str, ...]) -> None:
    ref = reference(*example)
    s, k, t, r, v = _floats(example)
    assert abs(Decimal(bs_price(s, k, t, r, v, "call")) - ref.call) < Decimal("1e-10")
    assert abs(Decimal(bs_price(s, k, t, r, v, "put")) - ref.put) < Decimal("1e-10")
    vector = bs_price_array(s, k, t, r, v, np.array([True, False]))
    assert abs(Decimal(float(vector[0])) - ref.call) < Decimal("1e-10")
    assert abs(Decimal(float(vector[1])) - ref.put) < Decimal("1e-10")


def test_hulls_bsm_example_rounds_to_the_printed_4_76_and_0_81() -> None:
    ref = reference(*HULL_BSM)
    assert round(ref.call, 2) == Decimal("4.76")
    assert round(ref.put, 2) == Decimal("0.81")
    assert round(bs_price(42, 40, 0.5, 0.1, 0.2, "call"), 2) == 4.76
    assert round(bs_price(42, 40, 0.5, 0.1, 0.2, "put"), 2) == 0.81


spots = st.floats(1.0, 1_000.0)
moneyness = st.floats(0.5, 2.0)
times = st.floats(0.0, 5.0)
rates = st.floats(-0.05, 0.2)
vols = st.floats(0.0, 3.0)


@given(spots, moneyness, times, rates, vols)
def test_put_call_parity_holds_for_every_input(
    s: float, m: float, t: float, r: float, v: float
) -> None:
    k = s * m
    call, put = bs_price(s, k, t, r, v, "call"), bs_price(s, k, t, r, v, "put")
    assert call - put == pytest.approx(s - k * math.exp(-r * t), abs=1e-12 * (s + k))
    vc, vp = bs_price_array(s, k, t, r, v, np.array([True, False]))
    assert vc - vp == pytest.approx(s - k * math.exp(-r * t), abs=1e-12 * (s + k))


@given(spots, moneyness, times, rates, vols)
def test_price_lies_inside_the_no_arbitrage_bounds(
    s: float, m: float, t: float, r: float, v: float
) -> None:
    k = s * m
    k_disc = k * math.exp(-r * t)
    slack = 1e-12 * (s + k)
    call, put = bs_price(s, k, t, r, v, "call"), bs_price(s, k, t, r, v, "put")
    assert max(s - k_disc, 0.0) - slack <= call <= s + slack
    assert max(k_disc - s, 0.0) - slack <= put <= k_disc + slack


def test_vectorised_prices_equal_the_scalar_ones_on_a_random_book() -> None:
    rng = np.random.default_rng(14)
    n = 5_000
    s = rng.uniform(10, 200, n)
    k = s * rng.uniform(0.5, 2.0, n)
    t = rng.uniform(0, 3, n)
    r = rng.uniform(-0.02, 0.15, n)
    v = rng.uniform(0, 2, n)
    call = rng.random(n) < 0.5
    t[:50] = 0.0  # expiring
    v[50:100] = 0.0  # zero vol
    vector = bs_price_array(s, k, t, r, v, call)
    scalar = [
        bs_price(*map(float, (s[i], k[i], t[i], r[i], v[i])), "call" if call[i] else "put")
        for i in range(n)
    ]
    assert np.max(np.abs(vector - scalar) / (s + k)) < 1e-14


def test_prices_broadcast_over_a_grid_of_spots_and_vols() -> None:
    grid = bs_price_array(
        np.array([36.0, 42.0, 48.0]), 40, 0.5, 0.1, np.array([[0.1], [0.3]]), "call"
    )
    assert grid.shape == (2, 3)
    assert grid[1, 1] == pytest.approx(bs_price(42, 40, 0.5, 0.1, 0.3, "call"), abs=1e-13)


def test_at_expiry_and_at_zero_vol_the_price_is_the_discounted_intrinsic_value() -> None:
    assert bs_price(42, 40, 0.0, 0.1, 0.2, "call") == 2.0
    assert bs_price(42, 40, 0.0, 0.1, 0.2, "put") == 0.0
    assert bs_price(39, 40, 0.5, 0.1, 0.0, "call") == pytest.approx(39 - 40 * math.exp(-0.05))
    assert bs_price(38, 40, 0.5, 0.1, 0.0, "call") == 0.0  # 38 < 40·e^(−0.05) ≈ 38.05
    assert bs_price(42, 40, 0.5, 0.1, 0.0, "put") == 0.0
    assert list(bs_price_array([42, 38], 40, 0.0, 0.1, 0.2, "put")) == [0.0, 2.0]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0.0, 40, 0.5, 0.1, 0.2), "spot=0.0 must be > 0"),
        ((42, -1.0, 0.5, 0.1, 0.2), "strike=-1.0 must be > 0"),
        ((42, 40, -0.1, 0.1, 0.2), "t_years=-0.1 must be ≥ 0"),
        ((42, 40, 0.5, math.inf, 0.2), "rate=inf must be finite"),
        ((42, 40, 0.5, 0.1, math.nan), "vol=nan must be ≥ 0"),
        ((42, 40, 0.5, 0.1, -0.2), "vol=-0.2 must be ≥ 0"),
    ],
)
def test_inputs_outside_the_model_are_refused_by_name(args: tuple[float, ...], match: str) -> None:
    with pytest.raises(ValueError, match=re.escape(match)):
        bs_price(*args, "call")
    with pytest.raises(ValueError, match=re.escape(match.replace("=", "[0]=", 1))):
        bs_price_array(*([a] for a in args), "call")  # type: ignore[arg-type]


def test_a_bad_element_is_named_by_its_index() -> None:
    with pytest.raises(ValueError, match=r"spot\[2\]=-1.0 must be > 0"):
        bs_price_array([42.0, 41.0, -1.0], 40, 0.5, 0.1, 0.2, "put")


def test_an_unknown_option_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="'straddle' is not one of call, put"):
        bs_price(42, 40, 0.5, 0.1, 0.2, "straddle")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must be booleans"):
        bs_price_array(42, 40, 0.5, 0.1, 0.2, np.array([1, 0]))  # type: ignore[arg-type]


def test_scalar_inputs_to_the_array_form_give_a_zero_dimensional_price() -> None:
    price = bs_price_array(42, 40, 0.5, 0.1, 0.2, "call")
    assert price.shape == ()
    assert float(price) == pytest.approx(bs_price(42, 40, 0.5, 0.1, 0.2, "call"), abs=1e-13)
