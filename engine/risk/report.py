"""A book's risk at a price snapshot: health factor, exposures and VaR / ES by method.

Pure: `risk_report` takes models and returns a model, so the CLI only formats it. Health and
exposure are exact (integer fixed point, the circuits' arithmetic); historical VaR / ES are
exact on the integer path; parametric and Monte Carlo estimates are float64 and labelled so.
USD amounts are rounded to the cent for reading, after the exact computation.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
from pydantic import BaseModel, ConfigDict

from . import fixed_point as fp
from .metrics.exposure import exposure, leverage_bps
from .metrics.health import health_factor_bps
from .metrics.var import (
    historical_es_fixed,
    historical_var_fixed,
    monte_carlo_var_es,
    parametric_var_es,
    parse_alpha,
    scenario_losses_fixed,
)
from .models import Asset, Portfolio, PriceSnapshot, ScenarioSet

CENT = Decimal("0.01")


class MissingData(ValueError):
    """The book needs data an input lacks; `source` says which: assets, prices or scenarios."""

    def __init__(self, source: str, message: str) -> None:
        self.source = source
        super().__init__(message)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class PositionRisk(_Frozen):
    """One position of the book valued at the snapshot."""

    symbol: str
    """The asset."""
    quantity: Decimal
    """Signed quantity (> 0 collateral / long, < 0 debt / short)."""
    price: Decimal
    """Oracle price, USD."""
    value_usd: Decimal
    """quantity × price, USD, to the cent."""
    liquidation_threshold_bps: int
    """Share of a collateral value counted in the health factor, bps."""
    share_of_gross_bps: int
    """|value| / gross exposure, bps (floor)."""


class VarEstimate(_Frozen):
    """VaR and ES at α by one method."""

    method: str
    """'historical' (exact, the proven rule), 'parametric' (normal) or 'monte-carlo'."""
    var_usd: Decimal
    """Value-at-Risk_α, USD, to the cent (a loss is positive)."""
    es_usd: Decimal
    """Expected Shortfall_α, USD, to the cent: Acerbi–Tasche (historical, Monte Carlo paths) or
    the normal closed form (parametric)."""
    note: str
    """How it was computed."""


class RiskReport(_Frozen):
    """Everything `zkrisk risk` shows."""

    account: str
    """The book's owner."""
    snapshot_id: int
    """The price snapshot used."""
    taken_at: int
    """When the snapshot was assembled, unix seconds."""
    oldest_price_at: int
    """Timestamp of the oldest price the book used, unix seconds."""
    positions: tuple[PositionRisk, ...]
    """The book, largest |value| first."""
    margin_symbol: str | None
    """The vault's margin asset (None without margin)."""
    margin: Decimal
    """Escrowed margin, asset units."""
    margin_value_usd: Decimal
    """Margin × price, USD."""
    weighted_collateral_usd: Decimal
    """Σ collateral × price × liquidation threshold, margin included, USD."""
    debt_usd: Decimal
    """Σ debt × price, USD."""
    health_factor: Decimal | None
    """Weighted collateral / debt, floored to 4 decimals; None without debt (infinite)."""
    liquidatable: bool
    """True when the health factor is below 1."""
    long_usd: Decimal
    """Σ positive position values, USD."""
    short_usd: Decimal
    """Σ |negative position values|, USD."""
    gross_usd: Decimal
    """long + short, USD."""
    net_usd: Decimal
    """long − short, USD."""
    equity_usd: Decimal
    """net + margin value, USD."""
    leverage: Decimal | None
    """gross / equity, floored to 4 decimals; None when equity ≤ 0."""
    alpha: Decimal
    """Confidence level of VaR / ES."""
    scenarios: int | None
    """K, the number of scenarios (None without a scenario set)."""
    scenario_hash: str | None
    """sha256 of the scenario set's canonical encoding."""
    var: tuple[VarEstimate, ...]
    """VaR / ES by method (empty without a scenario set)."""


def _usd(value: int, decimals: int) -> Decimal:
    return fp.from_fixed(value, decimals).quantize(CENT, rounding=ROUND_HALF_EVEN)


def _plain(d: Decimal) -> Decimal:
    """Trailing zeros dropped without exponent notation (400, not 4E+2)."""
    return Decimal(f"{d.normalize():f}")


def _ratio(bps: int | None) -> Decimal | None:
    return None if bps is None else Decimal(bps) / fp.BPS_SCALE


def risk_report(
    portfolio: Portfolio,
    prices: PriceSnapshot,
    assets: Mapping[str, Asset],
    scenarios: ScenarioSet | None = None,
    *,
    alpha: Decimal | str = "0.99",
    mc_paths: int = 20_000,
    seed: int = 7,
) -> RiskReport:
    """The book's risk at `prices`; raises MissingData naming any symbol without data."""
    a = parse_alpha(alpha)
    held = dict(portfolio.quantities_fixed())
    margin_symbol = portfolio.margin_symbol if portfolio.margin_fixed > 0 else None
    needed = [*held, *([margin_symbol] if margin_symbol else [])]
    missing = [s for s in needed if s not in assets]
    if missing:
        raise MissingData("assets", f"no asset parameters for {', '.join(missing)}")
    unpriced = [s for s in needed if s not in prices.prices]
    if unpriced:
        raise MissingData(
            "prices", f"no price for {', '.join(unpriced)} in snapshot {prices.snapshot_id}"
        )
    price = {s: prices.prices[s].price_fixed for s in needed}
    values = {s: q * price[s] for s, q in held.items()}  # VALUE scale
    margin_value = portfolio.margin_fixed * price[margin_symbol] if margin_symbol else 0
    weighted = sum(v * assets[s].liquidation_threshold_bps for s, v in values.items() if v > 0)
    if margin_symbol:
        weighted += margin_value * assets[margin_symbol].liquidation_threshold_bps
    debt = sum(-v for v in values.values() if v < 0)
    hf = health_factor_bps(weighted, debt)
    expo = exposure(values.values())
    equity = expo.net + margin_value
    gross = expo.gross
    rows = tuple(
        PositionRisk(
            symbol=s,
            quantity=_plain(fp.from_fixed(held[s], fp.QTY_DECIMALS)),
            price=prices.prices[s].price,
            value_usd=_usd(v, fp.VALUE_DECIMALS),
            liquidation_threshold_bps=assets[s].liquidation_threshold_bps,
            share_of_gross_bps=0 if gross == 0 else abs(v) * fp.BPS_SCALE // gross,
        )
        for s, v in sorted(values.items(), key=lambda kv: -abs(kv[1]))
    )
    return RiskReport(
        account=portfolio.account,
        snapshot_id=prices.snapshot_id,
        taken_at=prices.taken_at,
        oldest_price_at=min((prices.prices[s].timestamp for s in needed), default=prices.taken_at),
        positions=rows,
        margin_symbol=margin_symbol,
        margin=portfolio.margin,
        margin_value_usd=_usd(margin_value, fp.VALUE_DECIMALS),
        weighted_collateral_usd=_usd(weighted // fp.BPS_SCALE, fp.VALUE_DECIMALS),
        debt_usd=_usd(debt, fp.VALUE_DECIMALS),
        health_factor=_ratio(hf),
        liquidatable=hf is not None and hf < fp.BPS_SCALE,
        long_usd=_usd(expo.long, fp.VALUE_DECIMALS),
        short_usd=_usd(expo.short, fp.VALUE_DECIMALS),
        gross_usd=_usd(gross, fp.VALUE_DECIMALS),
        net_usd=_usd(expo.net, fp.VALUE_DECIMALS),
        equity_usd=_usd(equity, fp.VALUE_DECIMALS),
        leverage=_ratio(leverage_bps(gross, equity)),
        alpha=a,
        scenarios=None if scenarios is None else scenarios.size,
        scenario_hash=None if scenarios is None else scenarios.content_hash,
        var=()
        if scenarios is None
        else _var_estimates(held, margin_symbol, portfolio, price, scenarios, a, mc_paths, seed),
    )


def _var_estimates(
    held: Mapping[str, int],
    margin_symbol: str | None,
    portfolio: Portfolio,
    price: Mapping[str, int],
    scenarios: ScenarioSet,
    alpha: Decimal,
    mc_paths: int,
    seed: int,
) -> tuple[VarEstimate, ...]:
    column = {s: j for j, s in enumerate(scenarios.symbols)}
    quantities = [0] * len(column)
    prices = [0] * len(column)
    exposures = dict(held)
    if margin_symbol:
        exposures[margin_symbol] = exposures.get(margin_symbol, 0) + portfolio.margin_fixed
    uncovered = sorted(s for s, q in exposures.items() if q and s not in column)
    if uncovered:
        raise MissingData(
            "scenarios", f"the scenario set has no returns for {', '.join(uncovered)}"
        )
    for s, q in exposures.items():
        if s in column:
            quantities[column[s]] = q
            prices[column[s]] = price[s]
    losses = scenario_losses_fixed(quantities, prices, scenarios.returns_fixed)
    k = scenarios.size
    estimates = [
        VarEstimate(
            method="historical",
            var_usd=_usd(historical_var_fixed(losses, alpha), fp.LOSS_DECIMALS),
            es_usd=_usd(historical_es_fixed(losses, alpha), fp.LOSS_DECIMALS),
            note="exact integer path (what a proof attests)",
        )
    ]
    if k >= 2:
        values = np.array([q * p / fp.VALUE_SCALE for q, p in zip(quantities, prices, strict=True)])
        matrix = scenarios.returns_matrix()
        for method, (var, es), note in (
            ("parametric", parametric_var_es(values, matrix, alpha), "normal, scenario mean / covariance"),
            ("monte-carlo", monte_carlo_var_es(values, matrix, alpha, paths=mc_paths, seed=seed),
             f"{mc_paths:,} normal paths, seed {seed}"),
        ):  # fmt: skip
            estimates.append(
                VarEstimate(
                    method=method,
                    var_usd=Decimal(repr(var)).quantize(CENT),
                    es_usd=Decimal(repr(es)).quantize(CENT),
                    note=note,
                )
            )
    return tuple(estimates)
