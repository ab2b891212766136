"""Rolling historical VaR forecasts against realised P&L: the exception sequence.

Day t's forecast is the engine's historical VaR (`metrics.var.historical_var_fixed`: the
(m + 1)-th largest loss, m = ⌊(1 − α)·W⌋) over the W days before it, t − W … t − 1, so a
forecast never sees the P&L it is judged against. Day t is an exception when its realised loss
exceeds the forecast strictly (loss_t > VaR_t, loss = −P&L), as Basel counts them. Everything is
an integer at one fixed scale, so ties are decided exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from ..metrics.var import historical_var_fixed, parse_alpha


@dataclass(frozen=True, slots=True)
class Forecast:
    """One backtested day: its index in the series, the VaR forecast and the realised P&L."""

    index: int
    var: int
    pnl: int

    @property
    def exception(self) -> bool:
        return -self.pnl > self.var


def rolling_forecasts(
    pnl: Sequence[int], window: int, alpha: Decimal | float | str
) -> list[Forecast]:
    """The forecast for every day that has `window` days before it (days window … n − 1)."""
    parse_alpha(alpha)
    if window < 1:
        raise ValueError(f"the window must be ≥ 1 day, got {window}")
    if len(pnl) <= window:
        raise ValueError(
            f"{len(pnl)} P&L days leave nothing to backtest with a {window}-day window: "
            f"give at least {window + 1} days or a shorter --window"
        )
    losses = [-x for x in pnl]
    return [
        Forecast(t, historical_var_fixed(losses[t - window : t], alpha), pnl[t])
        for t in range(window, len(pnl))
    ]
