"""`zkrisk margin`: a book's SPAN-style portfolio-margin requirement, scenario by scenario.

Reads the book and the public risk-array file, prints every scenario's loss, the worst one, the
short-option minimum, the requirement (the larger of scan risk and that minimum), the margin
held and the excess. Exit codes: 0 the margin covers the requirement, 1 shortfall, 2 bad input.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_EVEN, ROUND_UP, Decimal
from pathlib import Path
from typing import Annotated

import typer

from .common import EXIT_FAILED, bad_input

EPILOG = "Exit codes: 0 the margin held covers the requirement, 1 shortfall, 2 bad input."


def _usd(value: int, rounding: str = ROUND_HALF_EVEN) -> str:
    from ..risk.margin.requirement import usd

    return f"{usd(value).quantize(Decimal('0.01'), rounding):,}"


def margin(
    portfolio: Annotated[Path, typer.Option(help="The book (TOML, YAML or JSON).", dir_okay=False)],
    arrays: Annotated[
        Path, typer.Option(help="Public risk arrays (one per instrument).", dir_okay=False)
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """SPAN portfolio margin: loss per risk-array scenario, requirement, margin held, excess."""
    from ..files import load_model, load_portfolio
    from ..risk.margin.arrays import RiskArraySet
    from ..risk.margin.requirement import usd

    with bad_input():
        book = load_portfolio(portfolio)
        published = load_model(arrays, RiskArraySet)
        try:
            result = published.requirement(book.quantities_fixed())
            held = published.margin_held(book)
        except ValueError as exc:
            raise ValueError(f"{arrays}: {exc}") from None
    worst = result.worst_scenario
    excess = result.excess(held)
    if as_json:
        report = {
            "scenarios": [{"scenario": label, "loss_usd": str(usd(loss))}
                          for label, loss in zip(published.scenarios, result.losses, strict=True)],
            "worst_scenario": published.scenarios[worst],
            "scan_risk_usd": str(usd(result.scan_risk)),
            "short_option_minimum_usd": str(usd(result.short_option_minimum)),
            "requirement_usd": str(usd(result.requirement)),
            "margin_held_usd": str(usd(held)),
            "excess_usd": str(usd(excess)),
            "covered": excess >= 0,
        }  # fmt: skip
        typer.echo(json.dumps(report, indent=2))
    else:
        width = max(len(label) for label in published.scenarios)
        typer.echo(f"{'#':>3}  {'scenario':<{width}}  {'loss (USD)':>14}")
        for s, (label, loss) in enumerate(zip(published.scenarios, result.losses, strict=True)):
            mark = "  <- worst" if s == worst else ""
            typer.echo(f"{s + 1:>3}  {label:<{width}}  {_usd(loss):>14}{mark}")
        rows = [
            ("scan risk", result.scan_risk, f"worst scenario #{worst + 1}, floored at 0"),
            ("short-option minimum", result.short_option_minimum, "per short option unit"),
            ("requirement", result.requirement, "the larger of the two"),
            ("margin held", held, f"{book.margin:f} {book.margin_symbol or ''}".rstrip()),
            ("excess" if excess >= 0 else "shortfall", abs(excess), ""),
        ]
        for name, value, note in rows:
            # a shortfall rounds up: a fraction of a cent short is never shown as 0.00
            shown = _usd(value, ROUND_UP if name == "shortfall" else ROUND_HALF_EVEN)
            typer.echo(f"{name:<21}{shown:>16} USD" + (f"  ({note})" if note else ""))
    if excess < 0:
        raise typer.Exit(EXIT_FAILED)
