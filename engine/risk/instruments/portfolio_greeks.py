"""Portfolio Greeks per underlying: every position's Greeks summed onto the spot symbol it moves.

A spot holding of q units (the vault margin included) has delta q; a perp of q contracts has
delta q (one unit of the underlying each, and no gamma, vega, theta or rho); an option position
of q options has q times the option's Black–Scholes Greeks (`greeks` for the units: per unit of
price, per 1.00 of vol, per year, per 1.00 of rate). Options are valued at the price snapshot's
`taken_at`, at the underlying's snapshot price, at the contract's `vol` or else at the vol
implied by the option's snapshot premium.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from ..models import Portfolio, PriceSnapshot
from .contracts import DerivativesFile, OptionContract, PerpContract
from .greeks import ZERO_GREEKS, Greeks, bs_greeks_array
from .implied_vol import ImpliedVolError, implied_vol
from .perpetual import funding_payment, initial_margin, maintenance_margin

BPS = Decimal(10_000)

SECONDS_PER_YEAR = 365 * 24 * 3600
"""T in years is (expiry − now) / ACT/365 seconds."""


class MissingMarketData(ValueError):
    """A price or vol a position needs is absent or unusable; `source` names the file kind."""

    def __init__(self, source: str, message: str) -> None:
        self.source = source  # "prices" or "derivatives"
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class UnderlyingGreeks:
    """The book's aggregate Greeks on one underlying."""

    underlying: str
    spot: Decimal
    """The underlying's snapshot price, USD."""
    greeks: Greeks
    """Σ over positions (units: see `greeks`); delta is in units of the underlying."""

    @property
    def delta_usd(self) -> float:
        """Delta in USD: the P&L of a 1 USD move, times the price (Δ·S)."""
        return self.greeks.delta * float(self.spot)


@dataclass(frozen=True, slots=True)
class OptionValuation:
    symbol: str
    vol: float
    t_years: float
    greeks: Greeks  # per option


def _price(prices: PriceSnapshot, symbol: str, needed_by: str) -> Decimal:
    point = prices.prices.get(symbol)
    if point is None:
        raise MissingMarketData("prices", f"no price for {symbol} (needed by {needed_by})")
    return point.price


def value_options(
    contracts: list[OptionContract], prices: PriceSnapshot, rate: float
) -> list[OptionValuation]:
    """Vol, T and per-option Greeks of each contract at the snapshot (one vectorised pass)."""
    now = prices.taken_at
    spots, strikes, times, vols = [], [], [], []
    for c in contracts:
        spot = float(_price(prices, c.underlying, f"option {c.symbol}"))
        t = max(c.expiry - now, 0) / SECONDS_PER_YEAR
        if c.vol is not None:
            vol = float(c.vol)
        else:
            premium = float(_price(prices, c.symbol, f"option {c.symbol}, which has no vol"))
            try:
                vol = implied_vol(premium, spot, float(c.strike), t, rate, c.kind)
            except ImpliedVolError as exc:
                raise MissingMarketData(
                    "prices", f"option {c.symbol}: premium {premium}: {exc}; fix the price or "
                    "give the option a vol in the derivatives file"
                ) from None  # fmt: skip
        spots.append(spot)
        strikes.append(float(c.strike))
        times.append(t)
        vols.append(vol)
    if not contracts:
        return []
    is_call = np.array([c.kind == "call" for c in contracts])
    g = bs_greeks_array(spots, strikes, times, rate, vols, is_call)
    return [
        OptionValuation(
            c.symbol,
            vols[i],
            times[i],
            Greeks(
                float(g.delta[i]),
                float(g.gamma[i]),
                float(g.vega[i]),
                float(g.theta[i]),
                float(g.rho[i]),
            ),
        )
        for i, c in enumerate(contracts)
    ]


def greeks_by_underlying(
    portfolio: Portfolio, prices: PriceSnapshot, derivatives: DerivativesFile
) -> tuple[UnderlyingGreeks, ...]:
    """The book's Greeks summed per underlying, sorted by underlying symbol."""
    contracts = derivatives.contracts
    holdings: list[tuple[str, Decimal]] = [(p.symbol, p.quantity) for p in portfolio.positions]
    if portfolio.margin > 0 and portfolio.margin_symbol is not None:
        holdings.append((portfolio.margin_symbol, portfolio.margin))
    totals: dict[str, Greeks] = {}

    def add(underlying: str, greeks: Greeks) -> None:
        totals[underlying] = totals.get(underlying, ZERO_GREEKS) + greeks

    options: list[tuple[OptionContract, Decimal]] = []
    for symbol, quantity in holdings:
        contract = contracts.get(symbol)
        if isinstance(contract, OptionContract):
            options.append((contract, quantity))
        else:  # spot (no contract) and perps: delta one per unit of the underlying
            underlying = symbol if contract is None else contract.underlying
            add(underlying, Greeks(float(quantity), 0.0, 0.0, 0.0, 0.0))
    valued = value_options([c for c, _ in options], prices, float(derivatives.rate))
    for (contract, quantity), valuation in zip(options, valued, strict=True):
        add(contract.underlying, valuation.greeks.scaled(float(quantity)))
    return tuple(
        UnderlyingGreeks(u, _price(prices, u, f"the Greeks of {u}"), totals[u])
        for u in sorted(totals)
    )


def position_greeks(
    portfolio: Portfolio, prices: PriceSnapshot, derivatives: DerivativesFile
) -> Mapping[str, OptionValuation]:
    """Each option position's valuation by symbol (for reports)."""
    contracts = derivatives.contracts
    options = [
        c for p in portfolio.positions if isinstance(c := contracts.get(p.symbol), OptionContract)
    ]
    return {v.symbol: v for v in value_options(options, prices, float(derivatives.rate))}


@dataclass(frozen=True, slots=True)
class PerpExposure:
    """One perp position at its mark (USD; `perpetual` for the definitions)."""

    symbol: str
    quantity: Decimal
    mark: Decimal
    notional: Decimal
    """q · mark (signed)."""
    initial_margin: Decimal
    maintenance_margin: Decimal
    funding_payment: Decimal
    """What the holder pays this funding interval (negative: receives)."""


def perp_exposures(
    portfolio: Portfolio, prices: PriceSnapshot, derivatives: DerivativesFile
) -> tuple[PerpExposure, ...]:
    """Every perp position of the book at its snapshot mark, in book order."""
    found = []
    for position in portfolio.positions:
        contract = derivatives.contracts.get(position.symbol)
        if not isinstance(contract, PerpContract):
            continue
        q = position.quantity
        mark = _price(prices, contract.symbol, f"perp {contract.symbol}")
        found.append(
            PerpExposure(
                contract.symbol,
                q,
                mark,
                q * mark,
                initial_margin(q, mark, Decimal(contract.initial_margin_bps) / BPS),
                maintenance_margin(q, mark, Decimal(contract.maintenance_margin_bps) / BPS),
                funding_payment(q, mark, contract.funding_rate),
            )
        )
    return tuple(found)
