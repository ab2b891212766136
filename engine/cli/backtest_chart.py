"""The backtest chart: daily P&L against −VaR, exceptions marked; a PNG through matplotlib's Agg
canvas (no pyplot, no display, no global figure state)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..risk.backtest import Backtest

WIDTH_IN, HEIGHT_IN, DPI = 11.0, 4.8, 110


def _thousands(value: float, _position: int | None) -> str:
    return f"{'−' if value < 0 else ''}${abs(value) / 1000:,.0f}k"


def write_chart(path: Path, backtest: Backtest, dates: tuple[date, ...], scale: int,
                title: str) -> None:  # fmt: skip
    """Write the chart of `backtest` (P&L and VaR at `scale` per USD) to `path` as a PNG."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    days = np.array([dates[f.index] for f in backtest.forecasts], dtype="datetime64[D]")
    pnl = [f.pnl / scale for f in backtest.forecasts]
    hits = [f for f in backtest.forecasts if f.exception]
    hit_days = np.array([dates[f.index] for f in hits], dtype="datetime64[D]")
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    ax.bar(days, pnl, width=1.0, color="#8a9bb0", label="daily P&L")
    ax.step(days, [-f.var / scale for f in backtest.forecasts], where="mid", color="#c0392b",
            linewidth=1.4, label=f"−VaR (α = {backtest.alpha}, {backtest.window}-day window)")  # fmt: skip
    if hits:
        ax.scatter(hit_days, [f.pnl / scale for f in hits], marker="v", s=48, color="#e74c3c",
                   edgecolors="black", linewidths=0.6, zorder=3,
                   label=f"exceptions ({len(hits)})")  # fmt: skip
    ax.axhline(0, color="black", linewidth=0.6)
    ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.set_title(title)
    ax.set_ylabel("USD")
    ax.legend(loc="lower right", fontsize="small")
    ax.grid(axis="y", alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    # No Software / date metadata: the same series gives the same file.
    figure.savefig(path, format="png", metadata={"Software": None})
