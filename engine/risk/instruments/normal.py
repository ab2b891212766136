"""The standard normal distribution: density and CDF, scalar and numpy-vectorised.

numpy has no erf and scipy is not a dependency, so the vectorised CDF is Hart's double-precision
rational approximation (Hart 1968, as given by G. West, "Better approximations to cumulative
normal functions", Wilmott 2005). Against `math.erfc` its absolute error is below 1e-15
everywhere and its relative error below 1e-8 (worst in the far tail, x < −7, where Φ < 1e-12);
tests/unit/test_instruments_normal.py checks a dense grid. The scalar form is `math.erfc`,
accurate to about one ulp.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

_SQRT_2 = math.sqrt(2.0)
_SQRT_2PI = math.sqrt(2.0 * math.pi)

# Hart's coefficients: numerator (degree 6) and denominator (degree 7) in |x|, highest first.
_HART_NUM = (
    3.52624965998911e-02,
    0.700383064443688,
    6.37396220353165,
    33.912866078383,
    112.079291497871,
    221.213596169931,
    220.206867912376,
)
_HART_DEN = (
    8.83883476483184e-02,
    1.75566716318264,
    16.064177579207,
    86.7807322029461,
    296.564248779674,
    637.333633378831,
    793.826512519948,
    440.413735824752,
)
_HART_SPLIT = 10.0 / _SQRT_2  # ≈ 7.0711: the rational form below, a continued fraction above
_HART_ZERO = 37.0  # beyond this the tail is below the smallest double
_CLIP = 40.0  # |x| clipped here: exp(−40²/2) is exactly 0.0, so φ is exact out there too


def norm_pdf(x: float) -> float:
    """φ(x) = exp(−x²/2) / √(2π)."""
    return math.exp(-0.5 * x * x) / _SQRT_2PI


def norm_cdf(x: float) -> float:
    """Φ(x) = P(Z ≤ x) = erfc(−x/√2) / 2 (erfc keeps full relative precision in the left tail)."""
    return 0.5 * math.erfc(-x / _SQRT_2)


def norm_pdf_array(x: FloatArray) -> FloatArray:
    """φ elementwise."""
    return np.exp(-0.5 * x * x) / _SQRT_2PI


def _hart_tail(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(Φ(−|x|), exp(−x²/2)) elementwise: the tail by Hart's approximation, and its Gaussian."""
    z = np.minimum(np.abs(np.atleast_1d(x)), _CLIP)  # 1-d at least: the far branch assigns
    gauss = np.exp(-0.5 * z * z)
    num = _HART_NUM[0] * z + _HART_NUM[1]
    for c in _HART_NUM[2:]:
        num *= z
        num += c
    den = _HART_DEN[0] * z + _HART_DEN[1]
    for c in _HART_DEN[2:]:
        den *= z
        den += c
    tail: FloatArray = gauss * num / den
    far = z >= _HART_SPLIT
    if far.any():  # rare in practice: only |x| ≥ 7.07 takes the continued fraction
        zf = z[far]
        frac = zf + 0.65
        for k in (4.0, 3.0, 2.0, 1.0):
            frac = zf + k / frac
        tail[far] = np.where(zf >= _HART_ZERO, 0.0, gauss[far] / frac / _SQRT_2PI)
    shape = np.shape(x)
    return tail.reshape(shape), gauss.reshape(shape)


def norm_cdf_array(x: FloatArray) -> FloatArray:
    """Φ elementwise, by Hart's approximation (module docstring)."""
    tail, _ = _hart_tail(x)
    result: FloatArray = np.where(x > 0, 1.0 - tail, tail)
    return result


def norm_cdf_pdf_array(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(Φ(x), φ(x)) elementwise, sharing the one exp both need."""
    tail, gauss = _hart_tail(x)
    cdf: FloatArray = np.where(x > 0, 1.0 - tail, tail)
    return cdf, gauss / _SQRT_2PI
