"""A VaR backtest in one call: rolling forecasts, exceptions, coverage tests, traffic light."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from ..metrics.var import parse_alpha
from .coverage import (
    LikelihoodRatio,
    Transitions,
    christoffersen_independence,
    conditional_coverage,
    kupiec_pof,
)
from .rolling import Forecast, rolling_forecasts
from .traffic_light import Zone, ZoneBounds, cumulative_probability, plus_factor, zone_bounds


@dataclass(frozen=True, slots=True)
class Backtest:
    """Everything a reviewer reads off a VaR backtest."""

    alpha: Decimal
    window: int
    forecasts: tuple[Forecast, ...]
    pof: LikelihoodRatio
    independence: LikelihoodRatio
    transitions: Transitions
    conditional: LikelihoodRatio
    bounds: ZoneBounds
    cumulative: float  # P(X ≤ exceptions) under a correct model
    plus_factor: Decimal | None

    @property
    def observations(self) -> int:
        return len(self.forecasts)

    @property
    def exceptions(self) -> int:
        return sum(1 for f in self.forecasts if f.exception)

    @property
    def expected(self) -> float:
        return float((1 - self.alpha) * self.observations)

    @property
    def zone(self) -> Zone:
        return self.bounds.zone(self.exceptions)

    def rejected_by(self, significance: float) -> list[str]:
        """Names of the tests that reject the model at `significance`, in table order."""
        tests = (("POF", self.pof), ("independence", self.independence),
                 ("conditional coverage", self.conditional))  # fmt: skip
        return [name for name, test in tests if test.rejects(significance)]


def run_backtest(pnl: Sequence[int], window: int, alpha: Decimal | float | str) -> Backtest:
    """Backtest rolling `window`-day historical VaR_α against the realised P&L series."""
    a = parse_alpha(alpha)
    forecasts = tuple(rolling_forecasts(pnl, window, a))
    hits = [f.exception for f in forecasts]
    p = 1 - a
    pof = kupiec_pof(len(hits), sum(hits), float(p))
    independence, transitions = christoffersen_independence(hits)
    exact_p = Fraction(p)
    return Backtest(
        alpha=a,
        window=window,
        forecasts=forecasts,
        pof=pof,
        independence=independence,
        transitions=transitions,
        conditional=conditional_coverage(pof, independence),
        bounds=zone_bounds(len(hits), exact_p),
        cumulative=cumulative_probability(sum(hits), len(hits), exact_p),
        plus_factor=plus_factor(sum(hits), len(hits), exact_p),
    )
