"""Drawdown and daily loss from a P&L series (integer fixed point; a numpy twin for long series).

Maximum drawdown is the standard one (e.g. Magdon-Ismail & Atiya, "Maximum drawdown", Risk 2004):
MDD = max_t (max_{s ≤ t} E_s − E_t) over an equity curve E_0, E_1, …, whose running peak starts
at E_0, the starting equity: a loss on the first day is a drawdown from where the desk began.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from .. import fixed_point as fp

DAY_SECONDS = 86_400


def equity_curve(pnl: Sequence[int], start_equity: int = 0) -> list[int]:
    """[E_0, E_1, …]: the starting equity, then the cumulative equity after each increment."""
    out, equity = [start_equity], start_equity
    for x in pnl:
        equity += x
        out.append(equity)
    return out


def max_drawdown(equity: Sequence[int]) -> int:
    """MDD = max_t (max_{s ≤ t} E_s − E_t) ≥ 0, the peak running from the first point (0 for an
    empty or never-falling curve); pass `equity_curve(pnl, start)` to count the start."""
    worst = 0
    peak: int | None = None
    for e in equity:
        peak = e if peak is None or e > peak else peak
        worst = max(worst, peak - e)
    return worst


def max_drawdown_bps(equity: Sequence[int]) -> int:
    """max_t ⌊(P_t − E_t) / P_t⌋ in bps with P_t = max_{s ≤ t} E_s from the first point; peaks
    ≤ 0 are skipped (a relative fall from no equity is undefined)."""
    worst = 0
    peak: int | None = None
    for e in equity:
        peak = e if peak is None or e > peak else peak
        if peak > 0:
            worst = max(worst, (peak - e) * fp.BPS_SCALE // peak)
    return worst


def max_drawdown_array(equity: npt.NDArray[np.float64]) -> float:
    """`max_drawdown` vectorised in float64 (monitoring dashboards; not for proofs)."""
    if equity.size == 0:
        return 0.0
    return float(np.max(np.maximum.accumulate(equity) - equity))


def daily_loss(pnl: Sequence[tuple[int, int]], now: int) -> int:
    """Loss so far in the UTC day containing `now`: max(0, -Σ pnl with day_start ≤ t ≤ now).

    `pnl` holds (timestamp, P&L increment) pairs in any order.
    """
    day_start = now - now % DAY_SECONDS
    total = sum(x for t, x in pnl if day_start <= t <= now)
    return max(0, -total)


def worst_daily_loss(pnl: Sequence[tuple[int, int]]) -> int:
    """The largest single-UTC-day loss across the series, ≥ 0."""
    days: dict[int, int] = {}
    for t, x in pnl:
        days[t // DAY_SECONDS] = days.get(t // DAY_SECONDS, 0) + x
    return max((max(0, -v) for v in days.values()), default=0)
