"""VaR and ES: historical (exact and float), parametric and Monte Carlo; bad input refused."""

from __future__ import annotations

import math
import random
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkrisk.engine.risk.metrics.var import (
    count_losses_above,
    es_scaled_bps,
    es_within_limit,
    es_within_limit_bps,
    historical_es_exact,
    historical_es_fixed,
    historical_var_es,
    historical_var_fixed,
    monte_carlo_var_es,
    parametric_var_es,
    parse_alpha,
    portable_losses,
    scenario_losses,
    scenario_losses_fixed,
    tail_count,
    tail_count_bps,
    tail_weight,
    var_within_limit,
)

D = Decimal
LOSSES = [-50, 10, 40, 30, -20, 100, 70, 0, 20, 60]  # sorted desc: 100 70 60 40 30 20 10 0 …


def test_tail_count_is_exact_where_float_arithmetic_would_floor_wrongly() -> None:
    assert (1 - 0.9) * 10 < 1  # the trap: 0.9999999999999998
    assert tail_count(0.9, 10) == 1
    assert tail_count(D("0.99"), 250) == 2
    assert tail_count_bps(9_500, 20) == 1


@pytest.mark.parametrize("alpha", [0, 1, 1.5, -0.1, "nan", float("inf"), "abc"])
def test_alpha_outside_the_open_unit_interval_is_refused(alpha: object) -> None:
    with pytest.raises(ValueError, match="alpha"):
        parse_alpha(alpha)  # type: ignore[arg-type]


def test_alpha_in_bps_outside_the_open_range_is_refused() -> None:
    with pytest.raises(ValueError, match="alpha_bps"):
        tail_count_bps(10_000, 5)


def test_empty_scenario_set_is_refused_by_every_path() -> None:
    with pytest.raises(ValueError, match="empty"):
        historical_var_fixed([], 0.9)
    with pytest.raises(ValueError, match="empty"):
        scenario_losses_fixed([1], [1], [])
    with pytest.raises(ValueError, match="empty"):
        scenario_losses(np.ones(2), np.empty((0, 2)))


def test_historical_var_is_the_m_plus_first_largest_loss() -> None:
    assert historical_var_fixed(LOSSES, D("0.8")) == 60  # m = 2
    assert historical_var_fixed(LOSSES, D("0.95")) == 100  # m = 0
    assert historical_var_fixed(LOSSES, D("0.5")) == 20  # m = 5


def test_historical_es_is_acerbi_tasche_with_the_var_scenario_weighted_by_what_is_left() -> None:
    # K = 10, α = 0.75: w = 2.5, m = 2: (100 + 70 + 0.5 · 60) / 2.5
    assert tail_weight(D("0.75"), 10) == Fraction(5, 2)
    assert historical_es_exact(LOSSES, D("0.75")) == 80
    # [10, 8, 1], α = 0.5: w = 1.5, m = 1: (10 + 0.5 · 8) / 1.5 = 28/3, rounded down
    assert historical_es_exact([10, 8, 1], D("0.5")) == Fraction(28, 3)
    assert historical_es_fixed([10, 8, 1], D("0.5")) == 9


def test_es_is_the_mean_of_the_m_largest_losses_when_k_times_one_minus_alpha_is_whole() -> None:
    assert historical_es_exact(LOSSES, D("0.8")) == (100 + 70) / 2  # w = m = 2: VaR left out
    assert historical_es_fixed([5, 4], D("0.5")) == 5  # w = m = 1


def test_es_is_var_when_k_times_one_minus_alpha_is_below_one() -> None:
    assert historical_es_exact(LOSSES, D("0.95")) == historical_var_fixed(LOSSES, D("0.95")) == 100
    assert historical_es_exact([-3, -7], D("0.9999")) == -3


def test_es_never_understates_the_old_tail_mean_that_counted_var_in_full() -> None:
    # The m + 1 largest with VaR at weight 1 (the definition before issue 14) is ≤ AT ES.
    old = Fraction(100 + 70 + 60, 3)
    assert historical_es_exact(LOSSES, D("0.75")) > old


def test_var_limit_exactly_at_var_passes_and_one_unit_below_fails() -> None:
    assert count_losses_above(LOSSES, 60) == 2
    assert var_within_limit(LOSSES, D("0.8"), 60)
    assert not var_within_limit(LOSSES, D("0.8"), 59)


def test_es_limit_exactly_at_es_passes_and_one_unit_below_fails() -> None:
    assert es_within_limit([90, 60, 30, 0], D("0.5"), 75)  # w = m = 2: (90 + 60) / 2
    assert not es_within_limit([90, 60, 30, 0], D("0.5"), 74)
    assert es_within_limit([10, 8, 1], D("0.5"), 10)  # ES = 9.33…: the ceiling passes
    assert not es_within_limit([10, 8, 1], D("0.5"), 9)  # ⌊ES⌋ does not


def test_es_in_the_circuits_integer_form_is_k_times_one_minus_alpha_times_es() -> None:
    # α = 7,500 bps, K = 10: 10⁴ · (S − t) + r · t with S = 230, t = 60, m = 2, r = 5,000
    assert es_scaled_bps(LOSSES, 7_500) == 10_000 * 170 + 5_000 * 60 == 25_000 * 80


@pytest.mark.parametrize("seed", range(4))
def test_circuit_form_of_the_es_limit_decides_exactly_as_the_exact_fraction(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(500):
        k = rng.choice([1, 2, 3, 7, 20, 100, 250, rng.randint(1, 400)])
        alpha = rng.choice([1, 5_000, 9_000, 9_500, 9_900, 9_975, 9_999, rng.randint(1, 9_999)])
        losses = [rng.randint(-(10**6), 10**6) for _ in range(k)]
        es = historical_es_exact(losses, D(alpha) / 10_000)
        assert es_scaled_bps(losses, alpha) == es * k * (10_000 - alpha)
        for limit in (math.floor(es) - 1, math.floor(es), math.ceil(es), math.ceil(es) + 1):
            exact = es_within_limit(losses, D(alpha) / 10_000, limit)
            assert es_within_limit_bps(losses, alpha, limit) is exact is (es <= limit)


def test_integer_losses_are_minus_quantity_price_return() -> None:
    # Values 6 and -4; scenario 2: -(6·2 + -4·1) = -8 (all scales 1 for clarity).
    assert scenario_losses_fixed([2, -1], [3, 4], [[-5, 0], [2, 1]]) == [30, -8]


def test_integer_losses_refuse_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        scenario_losses_fixed([1, 2], [1], [[1, 1]])
    with pytest.raises(ValueError, match="scenario 0 has 1 returns"):
        scenario_losses_fixed([1, 2], [1, 1], [[1]])


def test_float_path_agrees_with_the_integer_path() -> None:
    rng = np.random.default_rng(5)
    returns = rng.integers(-50_000, 50_000, size=(200, 6))
    values = rng.integers(-(10**6), 10**6, size=6)
    exact = scenario_losses_fixed(values.tolist(), [1] * 6, returns.tolist())
    var, es = historical_var_es(scenario_losses(values.astype(float), returns.astype(float)), 0.97)
    assert var == historical_var_fixed(exact, 0.97)
    # K(1 − α) = 6: the mean of the 6 largest losses
    assert math.isclose(es, sum(sorted(exact, reverse=True)[:6]) / 6, rel_tol=1e-12)
    _, es_frac = historical_var_es(scenario_losses(values.astype(float), returns.astype(float)),
                                   0.9725)  # fmt: skip
    assert math.isclose(es_frac, float(historical_es_exact(exact, D("0.9725"))), rel_tol=1e-12)


def test_float_path_refuses_nan_values() -> None:
    with pytest.raises(ValueError, match="finite"):
        scenario_losses(np.array([np.nan]), np.zeros((3, 1)))


def test_parametric_var_and_es_follow_the_normal_closed_form() -> None:
    returns = np.array([[0.01], [-0.01], [0.03], [-0.03]])
    sigma = float(np.std(returns[:, 0], ddof=1)) * 1_000
    var, es = parametric_var_es(np.array([1_000.0]), returns, 0.99)
    assert math.isclose(var, 2.3263478740408408 * sigma, rel_tol=1e-12)
    assert math.isclose(es, 2.665214220345808 * sigma, rel_tol=1e-9)
    assert es > var


def test_parametric_needs_two_scenarios() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        parametric_var_es(np.ones(1), np.ones((1, 1)), 0.99)


def test_monte_carlo_is_reproducible_for_a_seed_and_converges_to_parametric() -> None:
    rng = np.random.default_rng(1)
    returns = rng.normal(0.0, 0.02, size=(500, 3))
    values = np.array([1e6, -4e5, 2.5e5])
    first = monte_carlo_var_es(values, returns, 0.99, paths=50_000, seed=9)
    assert first == monte_carlo_var_es(values, returns, 0.99, paths=50_000, seed=9)
    assert first != monte_carlo_var_es(values, returns, 0.99, paths=50_000, seed=10)
    var, es = parametric_var_es(values, returns, 0.99)
    assert math.isclose(first[0], var, rel_tol=0.05)
    assert math.isclose(first[1], es, rel_tol=0.05)


def test_monte_carlo_refuses_zero_paths() -> None:
    with pytest.raises(ValueError, match="paths"):
        monte_carlo_var_es(np.ones(1), np.ones((3, 1)), 0.9, paths=0, seed=1)


def test_portable_losses_are_the_column_order_sum_bit_for_bit() -> None:
    """The gate's scenario losses have one defined value: the column-order sum of IEEE products,
    as plain Python floats give it, whatever BLAS kernel this CPU would pick for `R @ v` (on
    this project's machines that differed in the last bits for most scenarios)."""
    rng = np.random.default_rng(7)
    returns = rng.normal(0.0, 0.05, (250, 16))
    values = rng.normal(0.0, 1e6, 16)
    values[[3, 9]] = 0.0  # an unheld asset's column adds nothing
    expected = []
    for row in returns.tolist():
        total = 0.0
        for r, v in zip(row, values.tolist(), strict=True):
            if v != 0.0:
                total += r * v
        expected.append(-total)
    assert portable_losses(returns, values).tobytes() == np.array(expected).tobytes()
    assert scenario_losses(values, returns).tobytes() == np.array(expected).tobytes()
    assert portable_losses(returns, values.tolist()).tobytes() == np.array(expected).tobytes()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.03, -0.07, 5e-324]), min_size=3,
                max_size=3),
       st.lists(st.sampled_from([0.0, -0.0, 2.5, -3.0, 1e6, -7e5]), min_size=3, max_size=3))  # fmt: skip
def test_portable_losses_keep_the_python_sum_down_to_the_sign_of_zero(
    row: list[float], values: list[float]
) -> None:
    """Rows of zeros of either sign, values of either sign or none held: each loss is exactly
    -(0.0 + r0·v0 + r1·v1 + …) over the held columns, as Python floats give it (a loss of
    -0.0 and of 0.0 print differently in a verdict)."""
    returns = np.array([row, row[::-1]])
    expected = []
    for r_row in returns.tolist():
        total = 0.0
        for r, v in zip(r_row, values, strict=True):
            if v != 0.0:
                total += r * v
        expected.append(-total)
    assert portable_losses(returns, np.array(values)).tobytes() == np.array(expected).tobytes()
