"""Black–Scholes(–Merton) price of a European option on a non-dividend-paying underlying.

    d1 = (ln(S/K) + (r + σ²/2)·T) / (σ·√T),   d2 = d1 − σ·√T
    call = S·Φ(d1) − K·e^(−rT)·Φ(d2),         put = K·e^(−rT)·Φ(−d2) − S·Φ(−d1)

(Hull, Options, Futures and Other Derivatives, the BSM pricing formulas.) Units: S and K in the same
currency, T in years (ACT/365 is the caller's choice), r the continuously compounded annual
rate, σ the annual volatility (0.2 = 20%). At T = 0 or σ = 0 the price is its limit, the
discounted intrinsic value max(±(S − K·e^(−rT)), 0).

Two forms compute the same formula: `bs_price` on floats (math.erfc for Φ) and
`bs_price_array` on numpy arrays that broadcast against each other (Hart's Φ, see `normal`).
"""

from __future__ import annotations

import math
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from .normal import FloatArray, norm_cdf, norm_cdf_array

OptionKind = Literal["call", "put"]
OPTION_KINDS: tuple[str, ...] = get_args(OptionKind)

BoolArray = npt.NDArray[np.bool_]


def check_kind(kind: str) -> OptionKind:
    """`kind` as an OptionKind, or a ValueError naming the accepted values."""
    if kind == "call":
        return "call"
    if kind == "put":
        return "put"
    raise ValueError(f"option kind {kind!r} is not one of {', '.join(OPTION_KINDS)}")


_NEED = {
    "spot": "> 0",
    "strike": "> 0",
    "t_years": "≥ 0 (years to expiry)",
    "rate": "finite (annual, continuously compounded)",
    "vol": "≥ 0 (annual, 0.2 = 20%)",
}


def check_inputs(spot: float, strike: float, t_years: float, rate: float, vol: float) -> None:
    """Refuse inputs outside the model's domain, naming the first bad one and its range."""
    for name, value, ok in (
        ("spot", spot, spot > 0),
        ("strike", strike, strike > 0),
        ("t_years", t_years, t_years >= 0),
        ("rate", rate, True),
        ("vol", vol, vol >= 0),
    ):
        if not (ok and math.isfinite(value)):
            raise ValueError(f"{name}={value!r} must be {_NEED[name]}")


def d1_d2(
    spot: float, strike: float, t_years: float, rate: float, vol: float
) -> tuple[float, float]:
    """(d1, d2) for σ·√T > 0."""
    sd = vol * math.sqrt(t_years)
    d1 = (math.log(spot / strike) + (rate + 0.5 * vol * vol) * t_years) / sd
    return d1, d1 - sd


def bs_price(
    spot: float, strike: float, t_years: float, rate: float, vol: float, kind: OptionKind
) -> float:
    """The Black–Scholes price of one European option (module docstring for units)."""
    check_inputs(spot, strike, t_years, rate, vol)
    kind = check_kind(kind)
    discounted_strike = strike * math.exp(-rate * t_years)
    if vol * math.sqrt(t_years) == 0.0:
        intrinsic = spot - discounted_strike
        return max(intrinsic if kind == "call" else -intrinsic, 0.0)
    d1, d2 = d1_d2(spot, strike, t_years, rate, vol)
    if kind == "call":
        return spot * norm_cdf(d1) - discounted_strike * norm_cdf(d2)
    return discounted_strike * norm_cdf(-d2) - spot * norm_cdf(-d1)


def is_call_array(kind: OptionKind | BoolArray) -> BoolArray:
    """A kind for `bs_price_array`: one OptionKind for every element, or a boolean is-call mask."""
    if isinstance(kind, str):
        return np.asarray(check_kind(kind) == "call")
    mask = np.asarray(kind)
    if mask.dtype != np.bool_:
        raise ValueError("an array of option kinds must be booleans (True = call, False = put)")
    return mask


def check_arrays(
    spot: FloatArray, strike: FloatArray, t_years: FloatArray, rate: FloatArray, vol: FloatArray
) -> None:
    """`check_inputs` elementwise; the error names the first bad element by its index."""
    for name, values, ok in (
        ("spot", spot, spot > 0),
        ("strike", strike, strike > 0),
        ("t_years", t_years, t_years >= 0),
        ("rate", rate, True),
        ("vol", vol, vol >= 0),
    ):
        bad = ~(ok & np.isfinite(values))
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            where = f"[{', '.join(map(str, index))}]" if index else ""
            raise ValueError(f"{name}{where}={float(values[index])!r} must be {_NEED[name]}")


def option_arrays(
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    t_years: npt.ArrayLike,
    rate: npt.ArrayLike,
    vol: npt.ArrayLike,
    kind: OptionKind | BoolArray,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, BoolArray]:
    """The inputs as float64 arrays and an is-call mask, broadcast to one shape and checked."""
    floats = [np.asarray(x, dtype=np.float64) for x in (spot, strike, t_years, rate, vol)]
    s, k, t, r, v, call = np.broadcast_arrays(*floats, is_call_array(kind))
    check_arrays(s, k, t, r, v)
    return s, k, t, r, v, call


D_CLIP = 40.0
"""|d| beyond which Φ(d) is exactly 0 or 1 and φ(d) exactly 0 in float64."""


def d1_d2_array(
    s: FloatArray, k: FloatArray, t: FloatArray, r: FloatArray, v: FloatArray
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """(d1, d2, live) elementwise, where live = σ·√T > 0 (d1 and d2 are meaningless elsewhere).

    A tiny σ·√T sends d to ±inf: d is clipped to ±D_CLIP, which changes no Φ or φ.
    """
    sd = v * np.sqrt(t)
    live = sd > 0
    safe_sd = np.where(live, sd, 1.0)
    with np.errstate(over="ignore", divide="ignore"):
        d1 = (np.log(s / k) + (r + 0.5 * v * v) * t) / safe_sd
        d2 = d1 - safe_sd
    return np.clip(d1, -D_CLIP, D_CLIP), np.clip(d2, -D_CLIP, D_CLIP), live


def bs_price_array(
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    t_years: npt.ArrayLike,
    rate: npt.ArrayLike,
    vol: npt.ArrayLike,
    kind: OptionKind | BoolArray,
) -> FloatArray:
    """`bs_price` elementwise over broadcast arrays (e.g. one option under a grid of spots/vols).

    `kind` is one OptionKind for all elements or a boolean mask (True = call) that broadcasts too.
    """
    s, k, t, r, v, call = option_arrays(spot, strike, t_years, rate, vol, kind)
    discounted_strike = k * np.exp(-r * t)
    d1, d2, live = d1_d2_array(s, k, t, r, v)
    call_price = s * norm_cdf_array(d1) - discounted_strike * norm_cdf_array(d2)
    put_price = discounted_strike * norm_cdf_array(-d2) - s * norm_cdf_array(-d1)
    intrinsic = s - discounted_strike
    call_price = np.where(live, call_price, np.maximum(intrinsic, 0.0))
    put_price = np.where(live, put_price, np.maximum(-intrinsic, 0.0))
    price: FloatArray = np.where(call, call_price, put_price)
    return price
