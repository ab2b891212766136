"""Value-at-Risk and Expected Shortfall.

Loss convention: a scenario's loss is -Σ value_i · return_i (a gain is a negative loss).

Historical simulation over K scenarios at confidence α, with w = K · (1 − α) and m = ⌊w⌋:
    VaR_α = the (m + 1)-th largest loss  ⇔  the least L with at most m losses above L
    ES_α  = Acerbi–Tasche (2002, "On the coherence of Expected Shortfall", eq. 3.5 on the
            empirical distribution): w · ES_α = (sum of the m largest losses) + (w − m) · VaR_α,
            the average loss over the worst fraction 1 − α of scenarios, the VaR scenario
            counted with the weight w − m that is left. ES_α = VaR_α when w < 1; the mean of the
            m largest losses when w is whole. It is coherent (subadditive), ES ≥ VaR.
The counting form is what a circuit proves (no sorting): VaR_α ≤ L ⇔ count(loss > L) ≤ m; with
α in bps and S the sum of the m + 1 largest losses, t = VaR_α, r = K(10⁴ − α) − 10⁴·m:
    ES_α ≤ E  ⇔  10⁴ · (S − t) + r · t ≤ K · (10⁴ − α) · E        (circuits/TailRisk.circom)

Two implementations agree: an exact integer path (LOSS scale = VALUE · RETURN) for proofs and
small books, and a float64 numpy path for screening large books. Parametric (variance–
covariance, normal) and Monte Carlo (seeded multivariate normal) VaR/ES are float-only
estimates: no statement proves them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from .. import fixed_point as fp

FloatArray = npt.NDArray[np.float64]


def parse_alpha(alpha: Decimal | float | str) -> Decimal:
    """α as an exact Decimal strictly inside (0, 1); floats are read by their shortest repr."""
    if isinstance(alpha, bool):
        raise TypeError("alpha must be a number")
    try:
        a = Decimal(repr(alpha)) if isinstance(alpha, float) else Decimal(alpha)
    except ArithmeticError:
        raise ValueError(f"alpha={alpha!r} is not a number") from None
    if not a.is_finite() or not 0 < a < 1:
        raise ValueError(f"alpha={alpha!r} must lie strictly between 0 and 1 (e.g. 0.99)")
    return a


def tail_weight(alpha: Decimal | float | str, k: int) -> Fraction:
    """w = K · (1 − α), exact: the number of scenarios, fractional, that the ES tail averages."""
    if k < 1:
        raise ValueError("the scenario set is empty: K must be ≥ 1")
    return (1 - Fraction(parse_alpha(alpha))) * k


def tail_count(alpha: Decimal | float | str, k: int) -> int:
    """m = ⌊(1 − α) · K⌋, exact: how many losses may exceed VaR_α."""
    return math.floor(tail_weight(alpha, k))


def tail_count_bps(alpha_bps: int, k: int) -> int:
    """m for α given in bps, as the circuit computes it: ⌊(10000 − α_bps) · K / 10000⌋."""
    if not 0 < alpha_bps < fp.BPS_SCALE:
        raise ValueError(f"alpha_bps={alpha_bps} must lie strictly between 0 and {fp.BPS_SCALE}")
    if k < 1:
        raise ValueError("the scenario set is empty: K must be ≥ 1")
    return (fp.BPS_SCALE - alpha_bps) * k // fp.BPS_SCALE


# ---- exact integer path ---------------------------------------------------------------------


def scenario_losses_fixed(
    quantities: Sequence[int], prices: Sequence[int], returns: Sequence[Sequence[int]]
) -> list[int]:
    """Per-scenario loss -Σ q·p·r at LOSS scale (q at QTY, p at PRICE, r at RETURN scale)."""
    if len(quantities) != len(prices):
        raise ValueError("quantities and prices differ in length")
    if not returns:
        raise ValueError("the scenario set is empty: K must be ≥ 1")
    values = [q * p for q, p in zip(quantities, prices, strict=True)]
    live = [(i, v) for i, v in enumerate(values) if v]
    out = []
    for k, row in enumerate(returns):
        if len(row) != len(values):
            raise ValueError(f"scenario {k} has {len(row)} returns, expected {len(values)}")
        out.append(-sum(v * row[i] for i, v in live))
    return out


def count_losses_above(losses: Sequence[int], limit: int) -> int:
    """How many scenario losses strictly exceed `limit` (the circuit's VaR test)."""
    return sum(1 for x in losses if x > limit)


def var_within_limit(losses: Sequence[int], alpha: Decimal | float | str, limit: int) -> bool:
    """VaR_α ≤ limit by the counting rule, without sorting."""
    return count_losses_above(losses, limit) <= tail_count(alpha, len(losses))


def historical_var_fixed(losses: Sequence[int], alpha: Decimal | float | str) -> int:
    """VaR_α: the (m + 1)-th largest loss, same scale as `losses`."""
    m = tail_count(alpha, len(losses))
    return sorted(losses, reverse=True)[m]


def historical_es_exact(losses: Sequence[int], alpha: Decimal | float | str) -> Fraction:
    """Acerbi–Tasche ES_α, exact: (Σ m largest + (w − m) · VaR_α) / w with w = K(1 − α)."""
    w = tail_weight(alpha, len(losses))
    m = math.floor(w)
    ordered = sorted(losses, reverse=True)
    return (sum(ordered[:m]) + (w - m) * ordered[m]) / w


def historical_es_fixed(losses: Sequence[int], alpha: Decimal | float | str) -> int:
    """Acerbi–Tasche ES_α rounded down, ⌊ES_α⌋, same scale as `losses`."""
    return math.floor(historical_es_exact(losses, alpha))


def es_within_limit(losses: Sequence[int], alpha: Decimal | float | str, limit: int) -> bool:
    """Acerbi–Tasche ES_α ≤ limit, decided exactly (no rounding of ES)."""
    return historical_es_exact(losses, alpha) <= limit


def es_scaled_bps(losses: Sequence[int], alpha_bps: int) -> int:
    """K · (10⁴ − α) · ES_α as the circuit computes it: 10⁴ · (S − t) + r · t.

    S is the sum of the m + 1 largest losses, t = VaR_α and r = K(10⁴ − α) − 10⁴ · m ∈ [0, 10⁴).
    """
    k = len(losses)
    m = tail_count_bps(alpha_bps, k)
    r = k * (fp.BPS_SCALE - alpha_bps) - fp.BPS_SCALE * m
    tail = sorted(losses, reverse=True)[: m + 1]
    return fp.BPS_SCALE * (sum(tail) - tail[m]) + r * tail[m]


def es_within_limit_bps(losses: Sequence[int], alpha_bps: int, limit: int) -> bool:
    """ES_α ≤ limit for α in bps, in the circuit's integer form (TailRisk): equal to
    `es_within_limit` at α = alpha_bps / 10⁴, with no fraction."""
    return es_scaled_bps(losses, alpha_bps) <= len(losses) * (fp.BPS_SCALE - alpha_bps) * limit


# ---- float64 screening path -----------------------------------------------------------------


def portable_losses(returns: FloatArray, values: FloatArray | list[float]) -> FloatArray:
    """-R·v, summed column by column in column order with one elementwise multiply and add
    each (every step one IEEE-754 operation): the same bits on every machine. `returns @
    values` goes to BLAS, which picks its kernel, and with it the order of the sums, by the
    CPU: the gate's post-trade VaR, a figure its signed verdicts report, differed in the last
    digits between two machines of this project (170592.65539899998 against 170592.655399).
    A column whose value is zero adds nothing and is skipped.

    The sum starts from the first product plus 0.0 (what 0.0 plus it gives: the same sum,
    commutative, with -0.0 made 0.0) and is negated in place: no array of zeros, no copy, and
    the values as Python floats (numpy scalars cost more to index and multiply by)."""
    total: FloatArray | None = None
    for j, v in enumerate(values.tolist() if isinstance(values, np.ndarray) else values):
        if v:
            if total is None:
                total = returns[:, j] * v
                total += 0.0
            else:
                total += returns[:, j] * v
    if total is None:
        return -np.zeros(returns.shape[0])
    losses: FloatArray = np.negative(total, out=total)
    return losses


def scenario_losses(values: FloatArray, returns: FloatArray) -> FloatArray:
    """Per-scenario loss -R·v in USD (R: K × n returns, v: n USD values)."""
    if returns.ndim != 2 or returns.shape[0] == 0:
        raise ValueError("the scenario set is empty: returns must be a non-empty K × n matrix")
    if returns.shape[1] != values.shape[0]:
        raise ValueError(f"returns have {returns.shape[1]} columns for {values.shape[0]} values")
    if not (np.isfinite(values).all() and np.isfinite(returns).all()):
        raise ValueError("values and returns must be finite (NaN or inf found)")
    return portable_losses(returns, values)


def var_es_of_partition(part: FloatArray, m: int, weight: float) -> tuple[float, float]:
    """(VaR_α, Acerbi–Tasche ES_α) from losses partitioned at K − 1 − m (np.partition), where
    m = ⌊weight⌋ and weight = K(1 − α): the top m + 1 losses sit at the end, VaR first."""
    pivot = int(part.shape[0]) - 1 - m
    var = float(part[pivot])
    return var, (float(part[pivot + 1 :].sum()) + (weight - m) * var) / weight


def historical_var_es(losses: FloatArray, alpha: Decimal | float | str) -> tuple[float, float]:
    """(VaR_α, Acerbi–Tasche ES_α) of a loss vector, O(K); the definitions of the module doc."""
    k = int(losses.shape[0])
    w = tail_weight(alpha, k)
    m = math.floor(w)
    return var_es_of_partition(np.partition(losses, k - 1 - m), m, float(w))


def _moments(returns: FloatArray) -> tuple[FloatArray, FloatArray]:
    if returns.ndim != 2 or returns.shape[0] < 2:
        raise ValueError("parametric estimates need at least 2 scenarios")
    if not np.isfinite(returns).all():
        raise ValueError("returns must be finite (NaN or inf found)")
    mean: FloatArray = returns.mean(axis=0)
    cov: FloatArray = np.atleast_2d(np.cov(returns, rowvar=False, ddof=1))
    return mean, cov


def _normal_var_es(mu: float, sigma: float, a: Decimal) -> tuple[float, float]:
    alpha = float(a)
    z = NormalDist().inv_cdf(alpha)
    var = -mu + z * sigma
    es = -mu + sigma * math.exp(-z * z / 2) / math.sqrt(2 * math.pi) / (1 - alpha)
    return var, es


def parametric_var_es(
    values: FloatArray, returns: FloatArray, alpha: Decimal | float | str
) -> tuple[float, float]:
    """Variance–covariance (normal) VaR_α and ES_α in USD from the scenarios' mean/covariance."""
    a = parse_alpha(alpha)
    mean, cov = _moments(returns)
    mu = float(values @ mean)
    sigma = math.sqrt(max(float(values @ cov @ values), 0.0))
    return _normal_var_es(mu, sigma, a)


def monte_carlo_var_es(
    values: FloatArray,
    returns: FloatArray,
    alpha: Decimal | float | str,
    *,
    paths: int = 20_000,
    seed: int,
) -> tuple[float, float]:
    """Seeded multivariate-normal Monte Carlo VaR_α / ES_α (historical rules on the paths)."""
    parse_alpha(alpha)
    if paths < 1:
        raise ValueError("paths must be ≥ 1")
    mean, cov = _moments(returns)
    # eigh tolerates the singular covariance of K < n scenarios; clip rounding negatives.
    eigval, eigvec = np.linalg.eigh(cov)
    root = eigvec * np.sqrt(np.clip(eigval, 0.0, None))
    rng = np.random.default_rng(seed)
    simulated = mean + rng.standard_normal((paths, mean.shape[0])) @ root.T
    return historical_var_es(-(simulated @ values), alpha)
