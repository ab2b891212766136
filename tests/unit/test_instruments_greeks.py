"""Black–Scholes Greeks: Hull's example against an exact reference, finite differences of the
price, the Greeks' put–call parity, the vectorised form against the scalar one, and limits."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.instruments_reference import reference
from zkrisk.engine.risk.instruments.black_scholes import bs_price, bs_price_array
from zkrisk.engine.risk.instruments.greeks import CHUNK, Greeks, bs_greeks, bs_greeks_array

HULL = ("49", "50", "0.3846", "0.05", "0.2")
S, K, T, R, V = (float(x) for x in HULL)


def _near(value: float, exact: Decimal) -> bool:
    return abs(Decimal(value) - exact) < Decimal("1e-10")


def test_call_greeks_match_the_exact_reference_to_1e_10() -> None:
    ref = reference(*HULL)
    g = bs_greeks(S, K, T, R, V, "call")
    assert _near(g.delta, ref.call_delta)
    assert _near(g.gamma, ref.gamma)
    assert _near(g.vega, ref.vega)
    assert _near(g.theta, ref.call_theta)
    assert _near(g.rho, ref.call_rho)


def test_put_greeks_match_the_exact_reference_to_1e_10() -> None:
    ref = reference(*HULL)
    g = bs_greeks(S, K, T, R, V, "put")
    assert _near(g.delta, ref.put_delta)
    assert _near(g.gamma, ref.gamma)
    assert _near(g.vega, ref.vega)
    assert _near(g.theta, ref.put_theta)
    assert _near(g.rho, ref.put_rho)


def test_vectorised_greeks_match_the_exact_reference_to_1e_10() -> None:
    ref = reference(*HULL)
    g = bs_greeks_array(S, K, T, R, V, np.array([True, False]))
    assert _near(float(g.delta[0]), ref.call_delta) and _near(float(g.delta[1]), ref.put_delta)
    assert _near(float(g.gamma[1]), ref.gamma) and _near(float(g.vega[1]), ref.vega)
    assert _near(float(g.theta[0]), ref.call_theta) and _near(float(g.theta[1]), ref.put_theta)
    assert _near(float(g.rho[0]), ref.call_rho) and _near(float(g.rho[1]), ref.put_rho)


def test_hulls_printed_greeks_are_the_rounded_reference() -> None:
    # Hull, "The Greek Letters": delta 0.522, gamma 0.066, vega 12.1, theta −4.31 a year, rho 8.91.
    g = bs_greeks(S, K, T, R, V, "call")
    assert (round(g.delta, 3), round(g.gamma, 3), round(g.vega, 1)) == (0.522, 0.066, 12.1)
    assert (round(g.theta, 2), round(g.rho, 2)) == (-4.31, 8.91)
    assert round(g.theta / 365, 4) == -0.0118  # per calendar day


spots = st.floats(50.0, 150.0)
moneyness = st.floats(0.7, 1.4)
times = st.floats(0.05, 3.0)
rates = st.floats(-0.02, 0.15)
vols = st.floats(0.05, 1.5)
kinds = st.sampled_from(["call", "put"])


@given(spots, moneyness, times, rates, vols, kinds)
def test_greeks_equal_central_finite_differences_of_the_price(
    s: float, m: float, t: float, r: float, v: float, kind: str
) -> None:
    k = s * m
    g = bs_greeks(s, k, t, r, v, kind)  # type: ignore[arg-type]

    def price(s_: float = s, t_: float = t, r_: float = r, v_: float = v) -> float:
        return bs_price(s_, k, t_, r_, v_, kind)  # type: ignore[arg-type]

    hd, hs, hv, ht, hr = 1e-6 * s, 1e-4 * s, 1e-5, 1e-6, 1e-6
    assert g.delta == pytest.approx((price(s_=s + hd) - price(s_=s - hd)) / (2 * hd), abs=1e-7)
    second = (price(s_=s + hs) - 2 * price() + price(s_=s - hs)) / hs**2
    assert g.gamma == pytest.approx(second, rel=1e-4, abs=1e-7)
    assert g.vega == pytest.approx(
        (price(v_=v + hv) - price(v_=v - hv)) / (2 * hv), rel=1e-6, abs=1e-6
    )
    # theta is the price change as calendar time passes: T shrinks.
    assert g.theta == pytest.approx(
        -(price(t_=t + ht) - price(t_=t - ht)) / (2 * ht), rel=1e-5, abs=1e-5
    )
    assert g.rho == pytest.approx(
        (price(r_=r + hr) - price(r_=r - hr)) / (2 * hr), rel=1e-5, abs=1e-5
    )


@given(spots, moneyness, times, rates, vols)
def test_greeks_obey_put_call_parity(s: float, m: float, t: float, r: float, v: float) -> None:
    # d/d· of C − P = S − K·e^(−rT): delta 1, gamma 0, vega 0, theta −rK·e^(−rT), rho TK·e^(−rT).
    k = s * m
    c, p = bs_greeks(s, k, t, r, v, "call"), bs_greeks(s, k, t, r, v, "put")
    k_disc = k * math.exp(-r * t)
    assert c.delta - p.delta == pytest.approx(1.0, abs=1e-14)
    assert c.gamma == p.gamma and c.vega == p.vega
    assert c.theta - p.theta == pytest.approx(-r * k_disc, abs=1e-10 * k)
    assert c.rho - p.rho == pytest.approx(t * k_disc, abs=1e-10 * k)


def test_vectorised_greeks_equal_the_scalar_ones_on_a_random_book() -> None:
    rng = np.random.default_rng(19)
    n = 3_000
    s = rng.uniform(10, 200, n)
    k = s * rng.uniform(0.5, 2.0, n)
    t = rng.uniform(0, 3, n)
    r = rng.uniform(-0.02, 0.15, n)
    v = rng.uniform(0, 2, n)
    call = rng.random(n) < 0.5
    t[:40] = 0.0
    v[40:80] = 0.0
    g = bs_greeks_array(s, k, t, r, v, call)
    for i in range(n):
        one = bs_greeks(*map(float, (s[i], k[i], t[i], r[i], v[i])), "call" if call[i] else "put")
        scale = s[i] + k[i]
        for name in ("delta", "gamma", "vega", "theta", "rho"):
            got, want = float(getattr(g, name)[i]), getattr(one, name)
            assert got == pytest.approx(want, rel=1e-12, abs=1e-13 * scale), (name, i)


def test_at_expiry_greeks_are_those_of_the_intrinsic_value() -> None:
    assert bs_greeks(42, 40, 0.0, 0.1, 0.2, "call") == Greeks(1.0, 0.0, 0.0, -4.0, 0.0)
    assert bs_greeks(42, 40, 0.0, 0.1, 0.2, "put") == Greeks(0.0, 0.0, 0.0, 0.0, 0.0)
    deep_put = bs_greeks(30, 40, 0.5, 0.1, 0.0, "put")
    k_disc = 40 * math.exp(-0.05)
    assert deep_put == Greeks(
        -1.0, 0.0, 0.0, pytest.approx(0.1 * k_disc), pytest.approx(-0.5 * k_disc)
    )  # type: ignore[arg-type]


@pytest.mark.parametrize("vol", [1e-300, 1e-310])  # 1e-310 is subnormal: ln(S/K)/σ overflows
def test_tiny_vol_gives_finite_greeks_in_both_forms(vol: float) -> None:
    scalar = bs_greeks(100, 90, 1.0, 0.05, vol, "call")
    vector = bs_greeks_array(100, 90, 1.0, 0.05, vol, "call")
    assert scalar.delta == float(vector.delta) == 1.0
    assert scalar.gamma == float(vector.gamma) == 0.0
    assert float(bs_price_array(100, 90, 1.0, 0.05, vol, "put")) == 0.0


def test_greeks_scale_with_quantity_and_add() -> None:
    g = bs_greeks(S, K, T, R, V, "call")
    short = g.scaled(-2.0)
    assert short.delta == -2 * g.delta and short.theta == -2 * g.theta
    assert (short + g.scaled(2.0)).vega == 0.0


def test_greeks_refuse_bad_input_like_the_price() -> None:
    with pytest.raises(ValueError, match=r"vol=-0\.1 must be ≥ 0"):
        bs_greeks(S, K, T, R, -0.1, "call")
    with pytest.raises(ValueError, match=r"strike\[1\]=0.0 must be > 0"):
        bs_greeks_array(S, [50.0, 0.0], T, R, V, "put")
    with pytest.raises(ValueError, match="'digital' is not one of"):
        bs_greeks(S, K, T, R, V, "digital")  # type: ignore[arg-type]


def test_a_book_of_several_chunks_keeps_its_shape_and_every_element() -> None:
    rng = np.random.default_rng(3)
    shape = (3, CHUNK + 17)  # chunk boundaries fall inside rows
    s = rng.uniform(10, 200, shape)
    k = s * rng.uniform(0.5, 2.0, shape)
    call = rng.random(shape) < 0.5
    g = bs_greeks_array(s, k, 0.75, 0.03, 0.4, call)
    assert g.rho.shape == shape
    for i, j in [(0, 0), (0, CHUNK - 1), (1, 5), (2, CHUNK + 16), (1, CHUNK)]:
        one = bs_greeks(
            float(s[i, j]), float(k[i, j]), 0.75, 0.03, 0.4, "call" if call[i, j] else "put"
        )
        assert float(g.theta[i, j]) == pytest.approx(one.theta, rel=1e-12)
        assert float(g.delta[i, j]) == pytest.approx(one.delta, rel=1e-12, abs=1e-15)
