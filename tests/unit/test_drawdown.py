"""Drawdown and daily loss from P&L series."""

from __future__ import annotations

import numpy as np

from zkrisk.engine.risk.metrics.drawdown import (
    DAY_SECONDS,
    daily_loss,
    equity_curve,
    max_drawdown,
    max_drawdown_array,
    max_drawdown_bps,
    worst_daily_loss,
)


def test_equity_curve_starts_at_the_starting_equity_and_accumulates_pnl() -> None:
    assert equity_curve([5, -3, 4], start_equity=10) == [10, 15, 12, 16]
    assert equity_curve([]) == [0]


def test_max_drawdown_counts_a_fall_from_the_starting_equity() -> None:
    assert max_drawdown(equity_curve([-10, 5], 100)) == 10
    assert max_drawdown_bps(equity_curve([-10, 5], 100)) == 1_000
    assert max_drawdown_array(np.array(equity_curve([-10, 5], 100), dtype=np.float64)) == 10.0


def test_max_drawdown_of_random_series_matches_a_brute_force_over_all_pairs() -> None:
    rng = np.random.default_rng(11)
    for _ in range(600):
        pnl = rng.integers(-50, 50, size=int(rng.integers(1, 12))).tolist()
        e = equity_curve(pnl, int(rng.integers(0, 200)))
        brute = max(max(e[s] - e[t] for s in range(t + 1)) for t in range(len(e)))
        assert max_drawdown(e) == brute


def test_max_drawdown_is_the_largest_peak_to_trough_fall() -> None:
    assert max_drawdown([100, 120, 90, 110, 80, 130]) == 40
    assert max_drawdown([1, 2, 3]) == 0
    assert max_drawdown([]) == 0


def test_max_drawdown_in_bps_is_relative_to_the_running_peak() -> None:
    assert max_drawdown_bps([100, 120, 90, 200, 150]) == 2_500
    assert max_drawdown_bps([-5, -10]) == 0  # no positive peak: relative drawdown undefined


def test_vectorised_drawdown_agrees_with_the_exact_one() -> None:
    rng = np.random.default_rng(3)
    series = np.cumsum(rng.integers(-100, 100, size=500))
    assert max_drawdown_array(series.astype(np.float64)) == max_drawdown(series.tolist())
    assert max_drawdown_array(np.array([], dtype=np.float64)) == 0.0


def test_daily_loss_counts_only_the_current_utc_day() -> None:
    day = 19_000 * DAY_SECONDS
    pnl = [(day - 1, -500), (day, -30), (day + 10, 10), (day + 100, -50), (day + 200, -999)]
    assert daily_loss(pnl, now=day + 150) == 70
    assert daily_loss([(day + 1, 25)], now=day + 2) == 0


def test_worst_daily_loss_groups_by_utc_day() -> None:
    day = 19_000 * DAY_SECONDS
    pnl = [(day, -10), (day + 5, -20), (day + DAY_SECONDS, -25), (day + DAY_SECONDS + 1, 40)]
    assert worst_daily_loss(pnl) == 30
    assert worst_daily_loss([]) == 0
