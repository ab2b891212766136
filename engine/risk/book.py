"""A book valued at a price snapshot: the pre-trade aggregates the checks update incrementally.

`value_book` gathers, once per (portfolio, snapshot), every fixed-point number the pre-trade
rules need, and records missing data instead of guessing: a leg without a known asset or a price
is listed in `missing_assets` / `missing_prices` and left out of every aggregate, so callers
must fail closed when either is non-empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from . import fixed_point as fp
from .models import Asset, Portfolio, PriceSnapshot

FloatArray = npt.NDArray[np.float64]


class Leg(NamedTuple):
    """One book position with its price and threshold, fixed point (a NamedTuple: the gate
    builds a few per check, and a frozen dataclass's `__init__` cost several times more)."""

    symbol: str
    quantity: int  # QTY scale, signed
    price: int  # PRICE scale
    lt_bps: int

    @property
    def notional(self) -> int:
        return self.quantity * self.price

    @property
    def weighted(self) -> int:
        """Collateral · price · lt (0 for a debt leg), VALUE · BPS."""
        return self.quantity * self.price * self.lt_bps if self.quantity > 0 else 0

    @property
    def debt_value(self) -> int:
        """Debt · price (0 for a collateral leg), VALUE."""
        return -self.quantity * self.price if self.quantity < 0 else 0


@dataclass(frozen=True, slots=True)
class ScenarioMatrix:
    """A scenario set laid out for fast column updates."""

    returns: FloatArray  # K × n, Fortran order so a column is contiguous
    returns_fixed: tuple[tuple[int, ...], ...]
    column: Mapping[str, int]
    max_abs_return: float

    @property
    def k(self) -> int:
        return int(self.returns.shape[0])


class BookView(NamedTuple):
    """The book's aggregates at one snapshot (a NamedTuple, built once per check: see `Leg`)."""

    legs: Mapping[str, Leg]
    missing_assets: tuple[str, ...]
    missing_prices: tuple[str, ...]
    margin_symbol: str | None
    margin: int  # QTY scale
    margin_price: int  # PRICE scale (0 without margin)
    margin_weighted: int  # VALUE · BPS
    weighted: int  # Σ legs' weighted + margin_weighted
    debt: int  # VALUE
    long: int  # VALUE, book legs only (margin is collateral, not exposure)
    short: int
    top_abs_notional: tuple[tuple[int, str], ...]  # the three largest |notional|, descending
    oldest_price: int  # min timestamp over the book's prices (margin asset included)
    newest_price: int
    losses: FloatArray | None  # pre-trade scenario losses, USD; None without scenarios
    missing_scenarios: tuple[str, ...]  # book symbols the scenario set lacks
    abs_value_usd: float  # Σ |value| of every leg and margin, for float error bounds


def scenario_matrix(
    symbols: tuple[str, ...], returns_fixed: tuple[tuple[int, ...], ...]
) -> ScenarioMatrix:
    matrix = np.asfortranarray(np.asarray(returns_fixed, dtype=np.float64) / fp.RETURN_SCALE)
    return ScenarioMatrix(
        returns=matrix,
        returns_fixed=returns_fixed,
        column={s: j for j, s in enumerate(symbols)},
        max_abs_return=float(np.abs(matrix).max()),
    )


def value_book(
    portfolio: Portfolio,
    prices: PriceSnapshot,
    assets: Mapping[str, Asset],
    scenarios: ScenarioMatrix | None,
) -> BookView:
    legs: dict[str, Leg] = {}
    missing_assets: list[str] = []
    missing_prices: list[str] = []
    stamps: list[int] = []
    symbols = list(portfolio.quantities_fixed().items())
    # Margin matters only when there is some: an empty vault needs no margin-asset price.
    margin_symbol = portfolio.margin_symbol if portfolio.margin_fixed > 0 else None
    for symbol, quantity in symbols:
        asset = assets.get(symbol)
        point = prices.prices.get(symbol)
        if asset is None:
            missing_assets.append(symbol)
        if point is None:
            missing_prices.append(symbol)
        if asset is None or point is None:
            continue
        stamps.append(point.timestamp)
        legs[symbol] = Leg(symbol, quantity, point.price_fixed, asset.liquidation_threshold_bps)
    margin_weighted = 0
    margin_price = 0
    if margin_symbol is not None:
        asset = assets.get(margin_symbol)
        point = prices.prices.get(margin_symbol)
        if asset is None and margin_symbol not in missing_assets:
            missing_assets.append(margin_symbol)
        if point is None and margin_symbol not in missing_prices:
            missing_prices.append(margin_symbol)
        if asset is not None and point is not None:
            stamps.append(point.timestamp)
            margin_price = point.price_fixed
            margin_weighted = (
                portfolio.margin_fixed * margin_price * asset.liquidation_threshold_bps
            )
    long = short = weighted = debt = 0
    for leg in legs.values():
        n = leg.notional
        if n >= 0:
            long += n
            weighted += n * leg.lt_bps
        else:
            short -= n
            debt -= n
    top = sorted(((abs(leg.notional), s) for s, leg in legs.items()), reverse=True)[:3]
    abs_value = (long + short + portfolio.margin_fixed * margin_price) / fp.VALUE_SCALE
    losses: FloatArray | None = None
    missing_scen: tuple[str, ...] = ()
    if scenarios is not None:
        needed = [s for s, _ in symbols]
        if margin_symbol is not None:
            needed.append(margin_symbol)
        missing_scen = tuple(sorted({s for s in needed if s not in scenarios.column}))
        values = np.zeros(len(scenarios.column))
        for s, leg in legs.items():
            if s in scenarios.column:
                values[scenarios.column[s]] += leg.notional / fp.VALUE_SCALE
        if margin_symbol is not None and margin_symbol in scenarios.column:
            values[scenarios.column[margin_symbol]] += (
                portfolio.margin_fixed * margin_price / fp.VALUE_SCALE
            )
        losses = -(scenarios.returns @ values)
    return BookView(
        legs=legs,
        missing_assets=tuple(missing_assets),
        missing_prices=tuple(missing_prices),
        margin_symbol=margin_symbol,
        margin=portfolio.margin_fixed if margin_symbol is not None else 0,
        margin_price=margin_price,
        margin_weighted=margin_weighted,
        weighted=weighted + margin_weighted,
        debt=debt,
        long=long,
        short=short,
        top_abs_notional=tuple(top),
        oldest_price=min(stamps, default=0),
        newest_price=max(stamps, default=0),
        losses=losses,
        missing_scenarios=missing_scen,
        abs_value_usd=abs_value,
    )
