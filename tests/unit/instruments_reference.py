"""An independent Black–Scholes reference in exact-precision Decimal arithmetic (80 digits).

Nothing here shares code with the engine: Φ comes from the Maclaurin series of erf summed
until the terms fall below 10^-90, ln/exp/sqrt are Decimal's correctly rounded ones, and π is
the literal constant. Its results are exact to far beyond float64, so comparing the engine to
it at 1e-10 measures the engine's error alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext

PI = Decimal("3.14159265358979323846264338327950288419716939937510582097494459230781640628620899")
PREC = 80


def _erf(x: Decimal) -> Decimal:
    # erf(x) = 2/√π · Σ (−1)^n x^(2n+1) / (n! (2n+1))
    total = Decimal(0)
    power = x  # x^(2n+1) (−1)^n / n!
    n = 0
    eps = Decimal(10) ** -(PREC + 10)
    while True:
        term = power / (2 * n + 1)
        total += term
        if abs(term) < eps:
            break
        n += 1
        power = -power * x * x / n
    return 2 * total / PI.sqrt()


def phi_cdf(x: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = PREC
        return (1 + _erf(x / Decimal(2).sqrt())) / 2


def phi_pdf(x: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = PREC
        return (-x * x / 2).exp() / (2 * PI).sqrt()


@dataclass(frozen=True)
class Reference:
    call: Decimal
    put: Decimal
    call_delta: Decimal
    put_delta: Decimal
    gamma: Decimal
    vega: Decimal
    call_theta: Decimal
    put_theta: Decimal
    call_rho: Decimal
    put_rho: Decimal


def reference(spot: str, strike: str, t_years: str, rate: str, vol: str) -> Reference:
    """Prices and Greeks from the closed forms (Hull: the BSM formulas and "The Greek Letters"), at 80 digits."""
    with localcontext() as ctx:
        ctx.prec = PREC
        s, k, t, r, v = (Decimal(x) for x in (spot, strike, t_years, rate, vol))
        root_t = t.sqrt()
        d1 = ((s / k).ln() + (r + v * v / 2) * t) / (v * root_t)
        d2 = d1 - v * root_t
        k_disc = k * (-r * t).exp()
        pdf = phi_pdf(d1)
        n1, n2, m1, m2 = phi_cdf(d1), phi_cdf(d2), phi_cdf(-d1), phi_cdf(-d2)
        decay = -s * pdf * v / (2 * root_t)
        return Reference(
            call=s * n1 - k_disc * n2,
            put=k_disc * m2 - s * m1,
            call_delta=n1,
            put_delta=-m1,
            gamma=pdf / (s * v * root_t),
            vega=s * root_t * pdf,
            call_theta=decay - r * k_disc * n2,
            put_theta=decay + r * k_disc * m2,
            call_rho=t * k_disc * n2,
            put_rho=-t * k_disc * m2,
        )
