"""Rolling historical VaR forecasts against realised P&L, and the whole backtest on a series."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkrisk.engine.risk.backtest import Zone, rolling_forecasts, run_backtest
from zkrisk.engine.risk.metrics.var import historical_var_fixed


def test_each_forecast_is_the_engines_historical_var_of_the_window_before_the_day() -> None:
    # W = 4, α = 0.75: m = ⌊0.25 · 4⌋ = 1, VaR = the 2nd largest loss of the 4 days before.
    pnl = [-1, -5, 3, -2, -4, 6, -3]
    got = rolling_forecasts(pnl, 4, "0.75")
    assert [f.index for f in got] == [4, 5, 6]
    assert got[0].var == 2  # losses 1, 5, -3, 2 → 5, 2, 1, -3
    assert [f.var for f in got] == [historical_var_fixed([-x for x in pnl[t - 4 : t]], "0.75")
                                    for t in (4, 5, 6)]  # fmt: skip
    # day 4: loss 4 > VaR 2; day 5: a gain; day 6: losses -3, 2, 4, -6 give VaR 2 < loss 3
    assert [f.exception for f in got] == [True, False, True]


def test_a_loss_equal_to_the_var_is_no_exception_only_a_larger_one() -> None:
    # losses 10, 20, 30, 40 before day 4: VaR_0.75 = the 2nd largest = 30
    assert rolling_forecasts([-10, -20, -30, -40, -30], 4, "0.75")[0].var == 30
    assert rolling_forecasts([-10, -20, -30, -40, -30], 4, "0.75")[0].exception is False
    assert rolling_forecasts([-10, -20, -30, -40, -31], 4, "0.75")[0].exception is True


@given(st.lists(st.integers(-(10**9), 10**9), min_size=6, max_size=60), st.data())
def test_a_forecast_never_sees_the_pnl_it_is_judged_against(
    pnl: list[int], data: st.DataObject
) -> None:
    window = data.draw(st.integers(1, len(pnl) - 1))
    t = data.draw(st.integers(window, len(pnl) - 1))
    changed = [*pnl[:t], -(10**12), *pnl[t + 1 :]]
    before = rolling_forecasts(pnl, window, "0.9")
    after = rolling_forecasts(changed, window, "0.9")
    assert before[t - window].var == after[t - window].var
    assert after[t - window].exception  # a loss of 10^12 breaches any VaR of these


def test_a_series_no_longer_than_the_window_is_refused_saying_how_many_days_are_needed() -> None:
    with pytest.raises(ValueError, match="at least 251 days or a shorter --window"):
        rolling_forecasts([0] * 250, 250, "0.99")
    with pytest.raises(ValueError, match="window must be ≥ 1"):
        rolling_forecasts([0] * 5, 0, "0.99")
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        rolling_forecasts([0] * 5, 2, "1.5")


def test_a_backtest_of_iid_normal_pnl_lands_green_and_is_not_rejected() -> None:
    rng = random.Random(3)
    pnl = [round(rng.gauss(0, 1_000_000)) for _ in range(750)]
    result = run_backtest(pnl, 500, Decimal("0.99"))
    assert result.observations == 250 and result.expected == pytest.approx(2.5)
    assert result.zone is Zone.GREEN and result.rejected_by(0.05) == []


def test_a_crash_that_deepens_every_day_is_a_cluster_of_exceptions_rejected_by_every_test() -> None:
    rng = random.Random(5)
    calm = [round(rng.gauss(0, 1_000)) for _ in range(300)]
    crash = [-5_000 - 1_000 * k for k in range(12)]  # each day's loss the largest yet
    pnl = calm + crash + [round(rng.gauss(0, 1_000)) for _ in range(200)]
    result = run_backtest(pnl, 250, "0.99")
    assert result.observations == 262
    assert [f.index for f in result.forecasts if f.exception][-12:] == list(range(300, 312))
    assert result.transitions.n11 >= 11
    assert result.rejected_by(0.01) == ["POF", "independence", "conditional coverage"]
    assert result.zone is Zone.RED
