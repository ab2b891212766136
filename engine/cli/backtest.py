"""`zkrisk backtest`: rolling historical VaR against a realised P&L series, with Kupiec's and
Christoffersen's tests, the Basel traffic light, and a PNG chart.

Exit codes: 0 the model is not rejected at the significance level, 1 a test rejects it,
2 bad input (a missing or malformed series, too few days for the window, a bad option).
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .common import EXIT_FAILED, bad_input, fail

if TYPE_CHECKING:
    from ..pnl_series import PnlSeries
    from ..risk.backtest import Backtest, LikelihoodRatio


def _significance(text: str) -> tuple[float, str]:
    """The level as a float and as the percentage the table prints ('5%')."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"--significance {text!r} is not a number (e.g. 0.05)") from None
    if not value.is_finite() or not 0 < value < 1:
        raise ValueError(f"--significance {text} must lie strictly between 0 and 1 (e.g. 0.05)")
    return float(value), f"{(value * 100).normalize():f}%"


def _usd(micro: int, scale: int) -> str:
    return f"${micro / scale:,.2f}"


def _row(name: str, test: LikelihoodRatio, significance: float) -> str:
    verdict = "reject" if test.rejects(significance) else "accept"
    return f"{name:<24}{test.statistic:>9.4f}{test.dof:>5}{test.p_value:>10.4f}   {verdict}"


def _worst(series: PnlSeries, result: Backtest, scale: int) -> str:
    if not result.exceptions:
        return "worst excess      none   (no loss above its VaR)"
    worst = max(result.forecasts, key=lambda f: -f.pnl - f.var)
    return (f"worst excess  {_usd(-worst.pnl - worst.var, scale):>12}   on "
            f"{series.dates[worst.index]} (loss {_usd(-worst.pnl, scale)}, "
            f"VaR {_usd(worst.var, scale)})")  # fmt: skip


def _table(
    series: PnlSeries, result: Backtest, significance: float, level: str, scale: int
) -> list[str]:
    first, last = result.forecasts[0].index, result.forecasts[-1].index
    t = result.transitions
    bounds = result.bounds
    zone = (f"Basel zone: {result.zone.value.upper()} (green 0–{bounds.yellow_from - 1}, "
            f"yellow {bounds.yellow_from}–{bounds.red_from - 1}, red ≥ {bounds.red_from} "
            f"exceptions in {result.observations} days)")  # fmt: skip
    odds = f"P(X ≤ {result.exceptions}) = {result.cumulative:.2%} under a correct model"
    if result.plus_factor is not None:
        odds += f"; plus factor {result.plus_factor} (multiplier {3 + result.plus_factor})"
    rejected = result.rejected_by(significance)
    verdict = (f"verdict: REJECT at {level}: {', '.join(rejected)}" if rejected
               else f"verdict: not rejected at {level}")  # fmt: skip
    return [
        f"VaR backtest of {series.source}: historical VaR α = {result.alpha}, "
        f"{result.window}-day window",
        f"observations  {result.observations:>6}   {series.dates[first]} to {series.dates[last]} "
        f"(lines {series.lines[first]}–{series.lines[last]})",
        f"exceptions    {result.exceptions:>6}   expected {result.expected:.2f}; rate "
        f"{result.exceptions / result.observations:.2%} (a loss above that day's VaR)",
        _worst(series, result, scale),
        "",
        f"{'test':<24}{'LR':>9}{'dof':>5}{'p-value':>10}   at {level}",
        _row("Kupiec POF", result.pof, significance),
        _row("Christoffersen ind.", result.independence, significance),
        _row("conditional coverage", result.conditional, significance),
        f"transitions   n00 {t.n00}, n01 {t.n01}, n10 {t.n10}, n11 {t.n11}",
        "",
        zone,
        odds,
        verdict,
    ]


def _as_json(series: PnlSeries, result: Backtest, significance: float, scale: int,
             chart: Path) -> str:  # fmt: skip
    def test(lr: LikelihoodRatio) -> dict[str, object]:
        return {"lr": lr.statistic, "dof": lr.dof, "p_value": lr.p_value,
                "rejected": lr.rejects(significance)}  # fmt: skip

    return json.dumps({
        "series": series.source, "alpha": str(result.alpha), "window": result.window,
        "observations": result.observations, "exceptions": result.exceptions,
        "expected": result.expected,
        "exception_dates": [series.dates[f.index].isoformat()
                            for f in result.forecasts if f.exception],
        "pof": test(result.pof), "independence": test(result.independence),
        "conditional_coverage": test(result.conditional),
        "transitions": {"n00": result.transitions.n00, "n01": result.transitions.n01,
                        "n10": result.transitions.n10, "n11": result.transitions.n11},
        "zone": result.zone.value, "yellow_from": result.bounds.yellow_from,
        "red_from": result.bounds.red_from, "cumulative_probability": result.cumulative,
        "significance": significance, "rejected_by": result.rejected_by(significance),
        "chart": str(chart),
    }, indent=2)  # fmt: skip


def backtest(
    series: Annotated[
        Path,
        typer.Argument(
            help="Daily P&L CSV: a header with date and the P&L column, one row a day.",
            dir_okay=False,
            show_default=False,
            metavar="SERIES",
        ),
    ],
    column: Annotated[str, typer.Option(help="The P&L column (USD, gains positive).")] = "pnl",
    window: Annotated[int, typer.Option(help="Days of history behind each VaR.", min=1)] = 250,
    alpha: Annotated[str, typer.Option(help="VaR confidence level, in (0, 1).")] = "0.99",
    significance: Annotated[
        str, typer.Option(help="Tests reject the model when their p-value is below this.")
    ] = "0.05",
    chart: Annotated[
        Path,
        typer.Option(help="Write the PNG chart (P&L vs −VaR, exceptions) here.", dir_okay=False),
    ] = Path("build/backtest.png"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Backtest rolling historical VaR against realised P&L: Kupiec, Christoffersen, Basel zone.

    Day t's VaR comes from the WINDOW days before it; an exception is a loss above it. Prints the exception count against the expected, Kupiec's proportion-of-failures test, Christoffersen's independence and conditional-coverage tests with their p-values, the Basel traffic-light zone and a verdict, and writes a PNG chart.
    """
    from ..pnl_series import PNL_SCALE, load_pnl_series
    from ..risk.backtest import run_backtest

    with bad_input():
        level, label = _significance(significance)
        loaded = load_pnl_series(series, column)
        if len(loaded.pnl) <= window:
            raise ValueError(
                f"{series}:{loaded.lines[-1]}: {len(loaded.pnl)} P&L rows end here; a "
                f"{window}-day window needs at least {window + 1} (give more days or a "
                "shorter --window)"
            )
        result = run_backtest(loaded.pnl, window, alpha)
    from .backtest_chart import write_chart

    try:
        write_chart(chart, result, loaded.dates, PNL_SCALE,
                    f"{series.name}: P&L vs historical VaR α = {result.alpha}")  # fmt: skip
    except OSError as exc:
        fail([f"--chart {chart}: cannot write the PNG: {exc.strerror or exc}"])
    if as_json:
        typer.echo(_as_json(loaded, result, level, PNL_SCALE, chart))
    else:
        for line in _table(loaded, result, level, label, PNL_SCALE):
            typer.echo(line)
        typer.echo(f"chart: {chart}")
    if result.rejected_by(level):
        raise typer.Exit(EXIT_FAILED)
