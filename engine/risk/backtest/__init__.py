"""VaR backtesting: rolling historical VaR against realised P&L, Kupiec's and Christoffersen's
likelihood-ratio tests, and the Basel traffic light. Pure functions; the CLI reads the series."""

from __future__ import annotations

from .coverage import (
    LikelihoodRatio,
    Transitions,
    chi2_sf,
    christoffersen_independence,
    conditional_coverage,
    kupiec_pof,
)
from .report import Backtest, run_backtest
from .rolling import Forecast, rolling_forecasts
from .traffic_light import Zone, ZoneBounds, cumulative_probability, plus_factor, zone_bounds

__all__ = [
    "Backtest",
    "Forecast",
    "LikelihoodRatio",
    "Transitions",
    "Zone",
    "ZoneBounds",
    "chi2_sf",
    "christoffersen_independence",
    "conditional_coverage",
    "cumulative_probability",
    "kupiec_pof",
    "plus_factor",
    "rolling_forecasts",
    "run_backtest",
    "zone_bounds",
]
