"""The Basel traffic light (BCBS 1996, Tables 1–2) from exact binomial cumulative probabilities."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkrisk.engine.risk.backtest import Zone, cumulative_probability, plus_factor, zone_bounds

ONE_PERCENT = Fraction(1, 100)

#: BCBS (1996) Table 2, 250 observations of a 99% VaR: the cumulative probability (%) of
#: 0 … 10 exceptions under a correct model, and each count's zone.
BASEL_TABLE_2 = [(0, 8.11), (1, 28.58), (2, 54.32), (3, 75.81), (4, 89.22), (5, 95.88),
                 (6, 98.63), (7, 99.60), (8, 99.89), (9, 99.97), (10, 99.99)]  # fmt: skip


@pytest.mark.parametrize(("exceptions", "percent"), BASEL_TABLE_2)
def test_cumulative_probabilities_are_those_of_basels_table_2(
    exceptions: int, percent: float
) -> None:
    assert round(100 * cumulative_probability(exceptions, 250, ONE_PERCENT), 2) == percent


def test_250_days_at_99_percent_give_green_0_to_4_yellow_5_to_9_red_from_10() -> None:
    bounds = zone_bounds(250, ONE_PERCENT)
    assert (bounds.yellow_from, bounds.red_from) == (5, 10)
    zones = [bounds.zone(x) for x in range(13)]
    assert zones == [Zone.GREEN] * 5 + [Zone.YELLOW] * 5 + [Zone.RED] * 3


def _least_by_direct_sum(n: int, p: Fraction, level: Fraction) -> int:
    total = Fraction(0)
    for k in range(n + 1):
        total += math.comb(n, k) * p**k * (1 - p) ** (n - k)
        if total >= level:
            return k
    raise AssertionError


@pytest.mark.parametrize(("n", "p"), [(500, ONE_PERCENT), (1000, ONE_PERCENT), (100, ONE_PERCENT),
                                      (250, Fraction(1, 40)), (750, Fraction(1, 20)), (12, ONE_PERCENT)])  # fmt: skip
def test_other_sample_sizes_cut_at_the_95_and_99_99_percent_cumulative_probabilities(
    n: int, p: Fraction
) -> None:
    bounds = zone_bounds(n, p)
    assert bounds.yellow_from == _least_by_direct_sum(n, p, Fraction(95, 100))
    assert bounds.red_from == _least_by_direct_sum(n, p, Fraction(9999, 10000))


def test_a_count_whose_probability_equals_a_cut_off_exactly_begins_the_zone() -> None:
    # One day at p = 1/20: P(X ≤ 0) = 19/20 = 95% exactly, so 0 exceptions is already yellow
    # ("equals or exceeds 95%"); a float sum could land just under.
    bounds = zone_bounds(1, Fraction(1, 20))
    assert bounds.yellow_from == 0 and bounds.zone(0) is Zone.YELLOW


def test_plus_factors_are_basels_for_250_days_at_99_percent_only() -> None:
    got = [plus_factor(x, 250, ONE_PERCENT) for x in range(12)]
    assert got == [Decimal("0.00")] * 5 + [Decimal(v) for v in ("0.40", "0.50", "0.65", "0.75",
                                                                "0.85", "1.00", "1.00")]  # fmt: skip
    assert plus_factor(6, 500, ONE_PERCENT) is None
    assert plus_factor(6, 250, Fraction(1, 20)) is None


@pytest.mark.parametrize(("n", "p", "match"), [(0, ONE_PERCENT, "at least one"),
                                               (10, Fraction(0), r"\(0, 1\)"),
                                               (10, Fraction(1), r"\(0, 1\)")])  # fmt: skip
def test_zone_bounds_of_no_days_or_an_impossible_rate_are_refused(
    n: int, p: Fraction, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        zone_bounds(n, p)


def test_a_cumulative_probability_of_an_impossible_count_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\[0, 250\]"):
        cumulative_probability(251, 250, ONE_PERCENT)


ORDER = {Zone.GREEN: 0, Zone.YELLOW: 1, Zone.RED: 2}


@given(st.integers(1, 1500), st.sampled_from([Fraction(1, 1000), ONE_PERCENT, Fraction(1, 40),
                                              Fraction(1, 20), Fraction(1, 10)]))  # fmt: skip
def test_the_zone_never_improves_with_more_exceptions(n: int, p: Fraction) -> None:
    bounds = zone_bounds(n, p)
    assert 0 <= bounds.yellow_from <= bounds.red_from <= n
    zones = [ORDER[bounds.zone(x)] for x in range(min(n, bounds.red_from + 3) + 1)]
    assert zones == sorted(zones)
