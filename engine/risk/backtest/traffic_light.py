"""The Basel traffic light: green, yellow or red by the number of VaR exceptions.

Source: Basle Committee on Banking Supervision, "Supervisory framework for the use of
'backtesting' in conjunction with the internal models approach to market risk capital
requirements", January 1996 (https://www.bis.org/publ/bcbs22.pdf), section IV and Tables 1–2.
The zones are cut by the binomial cumulative probability of the exception count under a correct
model: the yellow zone begins at the least count x with P(X ≤ x) ≥ 95%, the red zone at the
least x with P(X ≤ x) ≥ 99.99%. For 250 observations of a 99% VaR that is green 0–4, yellow
5–9, red ≥ 10 (Table 2). Other sample sizes (and, by the same rule, other confidence levels)
get their cut-offs from the same two probabilities, computed here in exact rational arithmetic
so a count at a boundary is never misplaced by rounding.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

YELLOW_FROM_PROBABILITY = Fraction(95, 100)
RED_FROM_PROBABILITY = Fraction(9999, 10000)

#: Table 2's plus factors (added to the capital multiplier of 3) for 250 observations at 99%.
BASEL_PLUS_FACTORS_250 = {5: Decimal("0.40"), 6: Decimal("0.50"), 7: Decimal("0.65"),
                          8: Decimal("0.75"), 9: Decimal("0.85")}  # fmt: skip


class Zone(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


@dataclass(frozen=True, slots=True)
class ZoneBounds:
    """The least exception counts of the yellow and the red zone for N observations at p."""

    observations: int
    yellow_from: int
    red_from: int

    def zone(self, exceptions: int) -> Zone:
        if exceptions >= self.red_from:
            return Zone.RED
        return Zone.YELLOW if exceptions >= self.yellow_from else Zone.GREEN


def _cumulative(n: int, p: Fraction) -> Iterator[tuple[int, int, int]]:
    """(k, numerator of P(X ≤ k), common denominator b^n) for k = 0..n, p = a/b, exactly.

    The terms C(n, k) a^k (b − a)^(n−k) follow one another by an exact integer recurrence, so
    only the counts up to the cut-off are ever computed."""
    a, b = p.numerator, p.denominator
    term, cumulative, denominator = (b - a) ** n, 0, b**n
    for k in range(n + 1):
        cumulative += term
        yield k, cumulative, denominator
        if k < n:
            term = term * (n - k) // (k + 1) * a // (b - a)


def _least_count_at(n: int, p: Fraction, probability: Fraction) -> int:
    for k, cumulative, denominator in _cumulative(n, p):
        if cumulative * probability.denominator >= probability.numerator * denominator:
            return k
    return n  # unreachable: P(X ≤ n) = 1


def zone_bounds(observations: int, p: Fraction) -> ZoneBounds:
    """Yellow and red cut-offs for N observations at expected exception rate p = 1 − α."""
    if observations < 1:
        raise ValueError("the traffic light needs at least one observation")
    if not 0 < p < 1:
        raise ValueError(f"the expected exception rate p = 1 − α must lie in (0, 1), got {p}")
    return ZoneBounds(
        observations,
        _least_count_at(observations, p, YELLOW_FROM_PROBABILITY),
        _least_count_at(observations, p, RED_FROM_PROBABILITY),
    )


def cumulative_probability(exceptions: int, observations: int, p: Fraction) -> float:
    """P(X ≤ x) for X ~ Binomial(N, p): Basel's 'cumulative probability' column."""
    if not 0 <= exceptions <= observations:
        raise ValueError(f"exceptions = {exceptions} must lie in [0, {observations}]")
    for k, cumulative, denominator in _cumulative(observations, p):
        if k == exceptions:
            return float(Fraction(cumulative, denominator))
    raise AssertionError("unreachable")


def plus_factor(exceptions: int, observations: int, p: Fraction) -> Decimal | None:
    """Basel's plus factor to the multiplier of 3 — defined for 250 observations at 99% only."""
    if observations != 250 or p != Fraction(1, 100):
        return None
    if exceptions >= 10:
        return Decimal("1.00")
    return BASEL_PLUS_FACTORS_250.get(exceptions, Decimal("0.00"))
