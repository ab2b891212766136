"""Black–Scholes Greeks of a European option, scalar and numpy-vectorised.

Conventions (Hull, Options, Futures and Other Derivatives, "The Greek Letters"), per option:
    delta = ∂V/∂S             per 1 unit of the underlying's price (call Φ(d1), put −Φ(−d1))
    gamma = ∂²V/∂S²           per unit of price, squared: φ(d1) / (S·σ·√T)
    vega  = ∂V/∂σ             per 1.00 of volatility (per vol point is vega / 100)
    theta = ∂V/∂t             per year of calendar time passing (= −∂V/∂T; per day is θ / 365)
    rho   = ∂V/∂r             per 1.00 of the rate (per 1 % is rho / 100)
Where σ·√T = 0 (at expiry, or zero vol) the Greeks are those of the limit price, the discounted
intrinsic value: delta is 1 (call) or −1 (put) strictly in the money and 0 otherwise, gamma and
vega are 0, theta and rho are those of the discounted strike of an in-the-money option.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .black_scholes import (
    BoolArray,
    OptionKind,
    check_inputs,
    check_kind,
    d1_d2,
    d1_d2_array,
    option_arrays,
)
from .normal import FloatArray, norm_cdf, norm_cdf_array, norm_cdf_pdf_array, norm_pdf


@dataclass(frozen=True, slots=True)
class Greeks:
    """The five Greeks of one position (module docstring for units)."""

    delta: float
    gamma: float
    vega: float
    theta: float
    rho: float

    def scaled(self, quantity: float) -> Greeks:
        """The Greeks of `quantity` options (negative: short)."""
        return Greeks(
            self.delta * quantity,
            self.gamma * quantity,
            self.vega * quantity,
            self.theta * quantity,
            self.rho * quantity,
        )

    def __add__(self, other: Greeks) -> Greeks:
        return Greeks(
            self.delta + other.delta,
            self.gamma + other.gamma,
            self.vega + other.vega,
            self.theta + other.theta,
            self.rho + other.rho,
        )


ZERO_GREEKS = Greeks(0.0, 0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class GreeksArrays:
    """The five Greeks elementwise, for a vector of options."""

    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray
    rho: FloatArray


def bs_greeks(
    spot: float, strike: float, t_years: float, rate: float, vol: float, kind: OptionKind
) -> Greeks:
    """The five Black–Scholes Greeks of one European option (module docstring for units)."""
    check_inputs(spot, strike, t_years, rate, vol)
    call = check_kind(kind) == "call"
    discount = math.exp(-rate * t_years)
    if vol * math.sqrt(t_years) == 0.0:
        return _intrinsic_greeks(spot, strike * discount, t_years, rate, call)
    d1, d2 = d1_d2(spot, strike, t_years, rate, vol)
    root_t = math.sqrt(t_years)
    pdf = norm_pdf(d1)
    gamma = pdf / (spot * vol * root_t)
    vega = spot * root_t * pdf
    decay = -spot * pdf * vol / (2.0 * root_t)
    k_disc = strike * discount
    if call:
        n_d2 = norm_cdf(d2)
        return Greeks(
            norm_cdf(d1), gamma, vega, decay - rate * k_disc * n_d2, t_years * k_disc * n_d2
        )
    n_md2 = norm_cdf(-d2)
    return Greeks(
        -norm_cdf(-d1), gamma, vega, decay + rate * k_disc * n_md2, -t_years * k_disc * n_md2
    )


def _intrinsic_greeks(
    spot: float, k_disc: float, t_years: float, rate: float, call: bool
) -> Greeks:
    sign = 1.0 if call else -1.0
    if sign * (spot - k_disc) <= 0:
        return ZERO_GREEKS
    return Greeks(sign, 0.0, 0.0, -sign * rate * k_disc, sign * t_years * k_disc)


CHUNK = 8_192
"""Options per numpy pass: a chunk's temporaries stay in cache (≈ 2× faster than one pass)."""


def bs_greeks_array(
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    t_years: npt.ArrayLike,
    rate: npt.ArrayLike,
    vol: npt.ArrayLike,
    kind: OptionKind | BoolArray,
) -> GreeksArrays:
    """`bs_greeks` elementwise over broadcast arrays; `kind` as for `bs_price_array`."""
    s, k, t, r, v, call = option_arrays(spot, strike, t_years, rate, vol, kind)
    shape = s.shape
    s, k, t, r, v, call = (s.reshape(-1), k.reshape(-1), t.reshape(-1), r.reshape(-1),
                           v.reshape(-1), call.reshape(-1))  # fmt: skip
    out = np.empty((5, s.size))
    for start in range(0, s.size, CHUNK):
        part = slice(start, start + CHUNK)
        _greeks_into(out[:, part], s[part], k[part], t[part], r[part], v[part], call[part])
    delta, gamma, vega, theta, rho = (row.reshape(shape) for row in out)
    return GreeksArrays(delta=delta, gamma=gamma, vega=vega, theta=theta, rho=rho)


def _greeks_into(
    out: FloatArray,
    s: FloatArray,
    k: FloatArray,
    t: FloatArray,
    r: FloatArray,
    v: FloatArray,
    call: BoolArray,
) -> None:
    """The five Greeks of one chunk of checked inputs, written into out's five rows."""
    sign = np.where(call, 1.0, -1.0)
    k_disc = k * np.exp(-r * t)
    root_t = np.sqrt(t)
    d1, d2, live = d1_d2_array(s, k, t, r, v)
    safe_sd = np.where(live, v * root_t, 1.0)
    # Φ(sign·d) is Φ(d) for a call and Φ(−d) for a put, and φ is even: one pass serves both.
    n1, pdf = norm_cdf_pdf_array(sign * d1)
    n2 = norm_cdf_array(sign * d2)
    if not live.all():
        in_money = (sign * (s - k_disc) > 0).astype(np.float64)
        n1 = np.where(live, n1, in_money)
        n2 = np.where(live, n2, in_money)
        pdf = np.where(live, pdf, 0.0)
    sign_k_n2 = sign * k_disc * n2
    s_pdf = s * pdf
    out[0] = sign * n1
    out[1] = pdf / (s * safe_sd)
    out[2] = s_pdf * root_t
    out[3] = -0.5 * s_pdf * v / np.where(live, root_t, 1.0) - r * sign_k_n2
    out[4] = t * sign_k_n2
