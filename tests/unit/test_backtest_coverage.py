"""Kupiec's POF and Christoffersen's independence / conditional-coverage tests against
published values and an independent exact computation of the likelihood ratios."""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkrisk.engine.risk.backtest import (
    Transitions,
    chi2_sf,
    christoffersen_independence,
    conditional_coverage,
    kupiec_pof,
)

# ---- χ² survival in closed form against the published critical values ----------------------


@pytest.mark.parametrize(
    ("x", "dof", "tail"),
    [(3.841458820694124, 1, 0.05), (6.634896601021214, 1, 0.01), (10.827566170662733, 1, 0.001),
     (5.991464547107979, 2, 0.05), (9.210340371976182, 2, 0.01), (0.0, 1, 1.0), (0.0, 2, 1.0)],
)  # fmt: skip
def test_chi2_survival_at_the_tables_critical_values_gives_their_tail(
    x: float, dof: int, tail: float
) -> None:
    assert chi2_sf(x, dof) == pytest.approx(tail, rel=1e-12)


def test_chi2_survival_of_a_negative_statistic_or_another_dof_is_refused() -> None:
    with pytest.raises(ValueError, match="≥ 0"):
        chi2_sf(-0.1, 1)
    with pytest.raises(ValueError, match="1 or 2 degrees"):
        chi2_sf(1.0, 3)


# ---- an independent reference: the exact likelihood ratio, logged at 50 digits -------------


def _ln(q: Fraction) -> float:
    with localcontext() as ctx:
        ctx.prec = 50
        return float((Decimal(q.numerator) / Decimal(q.denominator)).ln())


def _bernoulli(ones: int, zeros: int, prob: Fraction) -> Fraction:
    return prob**ones * (1 - prob) ** zeros  # Fraction(0) ** 0 == 1: the literature's 0·ln 0 = 0


def _share(part: int, total: int) -> Fraction:
    return Fraction(part, total) if total else Fraction(0)


def reference_pof(n: int, x: int, p: Fraction) -> float:
    return -2 * _ln(_bernoulli(x, n - x, p) / _bernoulli(x, n - x, _share(x, n)))


def reference_ind(t: Transitions) -> float:
    pi = _share(t.n01 + t.n11, t.n00 + t.n01 + t.n10 + t.n11)
    null = _bernoulli(t.n01 + t.n11, t.n00 + t.n10, pi)
    markov = _bernoulli(t.n01, t.n00, _share(t.n01, t.n00 + t.n01)) * _bernoulli(
        t.n11, t.n10, _share(t.n11, t.n10 + t.n11)
    )
    return -2 * _ln(null / markov)


# ---- Kupiec ----------------------------------------------------------------------------------

#: Kupiec (1995), reproduced in Jorion, "Value at Risk" (3rd ed.), Table 6-3: the exception
#: counts N that the POF test does not reject at the 95% level, as "lo < N < hi" (lo = None:
#: the table gives no lower bound). T = 255, 510, 1000 days; p = 1 − α.
KUPIEC_REGIONS = [
    (0.01, 255, None, 7), (0.01, 510, 1, 11), (0.01, 1000, 4, 17),
    (0.025, 255, 2, 12), (0.025, 510, 6, 21), (0.025, 1000, 15, 36),
    (0.05, 255, 6, 21), (0.05, 510, 16, 36), (0.05, 1000, 37, 65),
    (0.075, 255, 11, 28), (0.075, 510, 27, 51), (0.075, 1000, 59, 92),
    (0.10, 255, 16, 36), (0.10, 510, 38, 65), (0.10, 1000, 81, 120),
]  # fmt: skip


@pytest.mark.parametrize(("p", "days", "lo", "hi"), KUPIEC_REGIONS)
def test_kupiec_non_rejection_regions_are_those_of_kupiecs_table(
    p: float, days: int, lo: int | None, hi: int
) -> None:
    accepted = [x for x in range(days + 1) if not kupiec_pof(days, x, p).rejects(0.05)]
    assert accepted[-1] == hi - 1
    # The table's blank lower bound at T = 255, p = 1%: even zero exceptions are only just
    # rejected (LR = 5.13 > 3.84), the region then starts at 1.
    assert accepted[0] == (1 if lo is None else lo + 1)
    assert accepted == list(range(accepted[0], accepted[-1] + 1))


@pytest.mark.parametrize(("n", "x", "p"), [(250, 8, "0.01"), (250, 1, "0.01"), (500, 40, "0.05"),
                                           (1000, 3, "0.001"), (60, 59, "0.9")])  # fmt: skip
def test_kupiec_lr_equals_the_exact_likelihood_ratio(n: int, x: int, p: str) -> None:
    got = kupiec_pof(n, x, float(p))
    assert got.statistic == pytest.approx(reference_pof(n, x, Fraction(p)), rel=1e-10)
    assert got.p_value == pytest.approx(math.erfc(math.sqrt(got.statistic / 2)), rel=1e-12)


def test_kupiec_with_zero_exceptions_is_minus_2n_log_of_the_coverage() -> None:
    got = kupiec_pof(250, 0, 0.01)
    assert got.statistic == pytest.approx(-2 * 250 * math.log(0.99), rel=1e-12)
    assert got.statistic == pytest.approx(5.0252, abs=1e-4)  # by hand: 500 · 0.0100503


def test_kupiec_when_every_day_is_an_exception_is_minus_2n_log_p() -> None:
    assert kupiec_pof(20, 20, 0.01).statistic == pytest.approx(-40 * math.log(0.01), rel=1e-12)


def test_kupiec_at_exactly_the_expected_rate_is_zero_with_p_value_one() -> None:
    got = kupiec_pof(500, 5, 0.01)
    assert got.statistic == pytest.approx(0.0, abs=1e-12) and got.p_value == pytest.approx(1.0)


@pytest.mark.parametrize(("n", "x", "p", "match"), [(0, 0, 0.01, "at least one"),
    (10, 11, 0.01, r"\[0, 10\]"), (10, -1, 0.01, r"\[0, 10\]"), (10, 1, 0.0, r"\(0, 1\)"),
    (10, 1, 1.0, r"\(0, 1\)")])  # fmt: skip
def test_kupiec_of_impossible_counts_or_rates_is_refused(
    n: int, x: int, p: float, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        kupiec_pof(n, x, p)


# ---- Christoffersen ----------------------------------------------------------------------------


def test_transitions_count_each_day_after_the_first_by_its_predecessor() -> None:
    hits = [False, True, True, False, False, True]
    assert Transitions.of(hits) == Transitions(n00=1, n01=2, n10=1, n11=1)


def test_independence_of_a_hand_worked_cluster_matches_the_closed_form() -> None:
    # 5 calm days, 2 exceptions in a row, 5 calm: n00 8, n01 1, n10 1, n11 1;
    # π0 = 1/9, π1 = 1/2, π = 2/11.
    hits = [False] * 5 + [True, True] + [False] * 5
    lr, t = christoffersen_independence(hits)
    assert t == Transitions(8, 1, 1, 1)
    by_hand = 2 * (8 * math.log(8 / 9) + math.log(1 / 9) + 2 * math.log(1 / 2)
                   - 9 * math.log(9 / 11) - 2 * math.log(2 / 11))  # fmt: skip
    assert lr.statistic == pytest.approx(by_hand, rel=1e-12)
    assert lr.statistic == pytest.approx(1.37950, abs=1e-5)
    assert lr.p_value == pytest.approx(math.erfc(math.sqrt(by_hand / 2)), rel=1e-12)


@pytest.mark.parametrize(
    "hits",
    [[False] * 30, [True] * 30, [False] * 29 + [True], [True] + [False] * 29, [True], [False], []],
    ids=["no-exception", "all-exceptions", "lone-last", "lone-first", "one-day-hit", "one-day", "empty"],
)  # fmt: skip
def test_independence_edge_cases_follow_zero_log_zero_and_match_the_exact_ratio(
    hits: list[bool],
) -> None:
    lr, t = christoffersen_independence(hits)
    assert lr.statistic == pytest.approx(reference_ind(t), abs=1e-12)
    assert 0.0 <= lr.p_value <= 1.0


def test_independence_with_nothing_to_test_is_zero_with_p_value_one() -> None:
    for hits in ([False] * 30, [True] * 30, [True], []):
        lr, _ = christoffersen_independence(hits)
        assert (lr.statistic, lr.p_value) == (0.0, 1.0)


def test_independence_rejects_exceptions_that_come_in_a_cluster() -> None:
    hits = [False] * 100 + [True] * 4 + [False] * 146
    lr, _ = christoffersen_independence(hits)
    assert lr.rejects(0.01)
    spread = [i % 60 == 30 for i in range(250)]  # the same count, far apart
    assert not christoffersen_independence(spread)[0].rejects(0.05)


def test_conditional_coverage_is_the_sum_with_two_degrees_of_freedom() -> None:
    hits = [False] * 5 + [True, True] + [False] * 5
    pof = kupiec_pof(len(hits), 2, 0.01)
    ind, _ = christoffersen_independence(hits)
    cc = conditional_coverage(pof, ind)
    assert cc.statistic == pytest.approx(pof.statistic + ind.statistic, rel=1e-15)
    assert (cc.dof, cc.p_value) == (2, pytest.approx(math.exp(-cc.statistic / 2), rel=1e-15))


# ---- properties --------------------------------------------------------------------------------

rates = st.sampled_from([0.001, 0.01, 0.025, 0.05, 0.1, 0.5])


@given(st.integers(1, 3000).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n))), rates)
def test_kupiec_lr_is_non_negative_and_its_p_value_a_probability(
    counts: tuple[int, int], p: float
) -> None:
    got = kupiec_pof(*counts, p)
    assert got.statistic >= 0.0 and 0.0 <= got.p_value <= 1.0


@given(st.lists(st.booleans(), max_size=400), rates)
def test_independence_and_conditional_coverage_are_non_negative_with_probabilities(
    hits: list[bool], p: float
) -> None:
    ind, t = christoffersen_independence(hits)
    assert ind.statistic >= 0.0 and 0.0 <= ind.p_value <= 1.0
    assert ind.statistic == pytest.approx(reference_ind(t), rel=1e-9, abs=1e-9)
    if hits:
        cc = conditional_coverage(kupiec_pof(len(hits), sum(hits), p), ind)
        assert cc.statistic >= 0.0 and 0.0 <= cc.p_value <= 1.0


def test_independence_of_a_markov_fit_equal_to_the_iid_fit_is_zero_not_a_rounding_negative() -> (
    None
):
    # π0 = π1 = π here; summed in a different order the two log-likelihoods differ by -7e-15.
    hits = [c == "1" for c in "001000100010011001011010111100000011"]
    lr, t = christoffersen_independence(hits)
    assert Fraction(t.n01, t.n00 + t.n01) == Fraction(t.n11, t.n10 + t.n11)
    assert (lr.statistic, lr.p_value) == (0.0, 1.0)
