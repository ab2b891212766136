"""Coverage tests of a VaR model's exceptions: Kupiec's POF, Christoffersen's independence and
conditional coverage, each a likelihood ratio with its χ² p-value.

Definitions (p = 1 − α the expected exception rate, N observations, x exceptions):

- Kupiec (1995), "Techniques for verifying the accuracy of risk measurement models", J.
  Derivatives 3(2): proportion of failures,
  LR_POF = −2 ln[(1 − p)^(N−x) p^x] + 2 ln[(1 − x/N)^(N−x) (x/N)^x]  ~ χ²(1).
- Christoffersen (1998), "Evaluating interval forecasts", Int. Economic Review 39(4): with
  n_ij the days in state j after a day in state i (1 = exception), π0 = n01/(n00 + n01),
  π1 = n11/(n10 + n11), π = (n01 + n11)/(n00 + n01 + n10 + n11),
  LR_ind = −2 ln[(1 − π)^(n00+n10) π^(n01+n11)]
           + 2 ln[(1 − π0)^n00 π0^n01 (1 − π1)^n10 π1^n11]  ~ χ²(1),
  LR_cc = LR_POF + LR_ind  ~ χ²(2)  (as Jorion, "Value at Risk", 3rd ed., §6.2.4, and most
  software compute it: LR_POF over all N days, LR_ind over the N − 1 transitions).

Edge cases, as the literature treats them: 0 · ln 0 = 0 (a probability estimated from zero
observations contributes nothing to the likelihood). So zero exceptions give
LR_POF = −2N ln(1 − p); all exceptions give −2N ln p; an estimate with no transitions of a kind
(no exception, hence no n10 or n11; a lone exception on the last day) drops out and LR_ind = 0
with p-value 1 when there is nothing to test (no exception, or exceptions only).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass


def chi2_sf(x: float, dof: int) -> float:
    """P(χ²(dof) > x) for dof 1 or 2, in closed form: erfc(√(x/2)) and exp(−x/2)."""
    if x < 0 or math.isnan(x):
        raise ValueError(f"a χ² statistic is ≥ 0, got {x}")
    if dof == 1:
        return math.erfc(math.sqrt(x / 2))
    if dof == 2:
        return math.exp(-x / 2)
    raise ValueError(f"only 1 or 2 degrees of freedom are needed here, got {dof}")


@dataclass(frozen=True, slots=True)
class LikelihoodRatio:
    """A likelihood-ratio statistic, its χ² degrees of freedom and p-value."""

    statistic: float
    dof: int
    p_value: float

    def rejects(self, significance: float) -> bool:
        """The null (a correct model) is rejected at this significance level (e.g. 0.05)."""
        return self.p_value < significance


def _ratio(statistic: float, dof: int) -> LikelihoodRatio:
    # The alternative's maximum likelihood is ≥ the null's, so LR ≥ 0; rounding can leave -1e-16.
    lr = max(statistic, 0.0)
    return LikelihoodRatio(lr, dof, chi2_sf(lr, dof))


def _xlogy(x: int, y: float) -> float:
    """x · ln y with 0 · ln 0 = 0."""
    return 0.0 if x == 0 else x * math.log(y)


def _check_rate(p: float) -> None:
    if not 0 < p < 1:
        raise ValueError(f"the expected exception rate p = 1 − α must lie in (0, 1), got {p}")


def kupiec_pof(observations: int, exceptions: int, p: float) -> LikelihoodRatio:
    """Kupiec's proportion-of-failures test of x exceptions in N days at expected rate p."""
    _check_rate(p)
    if observations < 1:
        raise ValueError("the POF test needs at least one observation")
    if not 0 <= exceptions <= observations:
        raise ValueError(f"exceptions = {exceptions} must lie in [0, {observations}]")
    n, x = observations, exceptions
    rate = x / n
    null = _xlogy(n - x, 1 - p) + _xlogy(x, p)
    alternative = _xlogy(n - x, 1 - rate) + _xlogy(x, rate)
    return _ratio(2 * (alternative - null), 1)


@dataclass(frozen=True, slots=True)
class Transitions:
    """Christoffersen's 2×2 counts: n_ij = days in state j following a day in state i."""

    n00: int
    n01: int
    n10: int
    n11: int

    @classmethod
    def of(cls, hits: Sequence[bool]) -> Transitions:
        pairs = list(itertools.pairwise(hits))
        return cls(
            n00=sum(1 for a, b in pairs if not a and not b),
            n01=sum(1 for a, b in pairs if not a and b),
            n10=sum(1 for a, b in pairs if a and not b),
            n11=sum(1 for a, b in pairs if a and b),
        )


def _rate(hits: int, total: int) -> float:
    return hits / total if total else 0.0  # unused when total = 0: both exponents are 0


def christoffersen_independence(hits: Sequence[bool]) -> tuple[LikelihoodRatio, Transitions]:
    """Christoffersen's independence test of the exception sequence (first-order Markov)."""
    t = Transitions.of(hits)
    pi0 = _rate(t.n01, t.n00 + t.n01)
    pi1 = _rate(t.n11, t.n10 + t.n11)
    pi = _rate(t.n01 + t.n11, t.n00 + t.n01 + t.n10 + t.n11)
    null = _xlogy(t.n00 + t.n10, 1 - pi) + _xlogy(t.n01 + t.n11, pi)
    markov = (
        _xlogy(t.n00, 1 - pi0) + _xlogy(t.n01, pi0) + _xlogy(t.n10, 1 - pi1) + _xlogy(t.n11, pi1)
    )
    return _ratio(2 * (markov - null), 1), t


def conditional_coverage(pof: LikelihoodRatio, independence: LikelihoodRatio) -> LikelihoodRatio:
    """Christoffersen's joint test: LR_cc = LR_POF + LR_ind ~ χ²(2)."""
    return _ratio(pof.statistic + independence.statistic, 2)
