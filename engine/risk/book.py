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
from .metrics.var import portable_losses
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
    quantities = portfolio.quantities_fixed()
    points = prices.prices
    new_leg = tuple.__new__  # Leg(...) without its Python-level __new__ (same tuple)
    long = short = weighted = debt = 0
    # Margin matters only when there is some: an empty vault needs no margin-asset price.
    margin_fixed = portfolio.margin_fixed
    margin_symbol = portfolio.margin_symbol if margin_fixed > 0 else None
    for symbol, quantity in quantities.items():
        asset = assets.get(symbol)
        point = points.get(symbol)
        if asset is None:
            missing_assets.append(symbol)
        if point is None:
            missing_prices.append(symbol)
        if asset is None or point is None:
            continue
        stamps.append(point.timestamp)
        price = point.price_fixed
        lt = asset.liquidation_threshold_bps
        legs[symbol] = new_leg(Leg, (symbol, quantity, price, lt))
        n = quantity * price  # Leg.notional
        if n >= 0:
            long += n
            weighted += n * lt
        else:
            short -= n
            debt -= n
    margin_weighted = 0
    margin_price = 0
    if margin_symbol is not None:
        asset = assets.get(margin_symbol)
        point = points.get(margin_symbol)
        if asset is None and margin_symbol not in missing_assets:
            missing_assets.append(margin_symbol)
        if point is None and margin_symbol not in missing_prices:
            missing_prices.append(margin_symbol)
        if asset is not None and point is not None:
            stamps.append(point.timestamp)
            margin_price = point.price_fixed
            margin_weighted = margin_fixed * margin_price * asset.liquidation_threshold_bps
    top = sorted(((abs(leg[1] * leg[2]), s) for s, leg in legs.items()), reverse=True)[:3]
    abs_value = (long + short + margin_fixed * margin_price) / fp.VALUE_SCALE
    losses: FloatArray | None = None
    missing_scen: tuple[str, ...] = ()
    if scenarios is not None:
        column = scenarios.column
        if any(s not in column for s in quantities) or (
            margin_symbol is not None and margin_symbol not in column
        ):
            needed = list(quantities)
            if margin_symbol is not None:
                needed.append(margin_symbol)
            missing_scen = tuple(sorted({s for s in needed if s not in column}))
        values = [0.0] * len(column)  # (Python floats: the same IEEE additions as an array's)
        for s, leg in legs.items():
            if s in column:
                values[column[s]] += leg[1] * leg[2] / fp.VALUE_SCALE
        if margin_symbol is not None and margin_symbol in column:
            values[column[margin_symbol]] += margin_fixed * margin_price / fp.VALUE_SCALE
        losses = portable_losses(scenarios.returns, values)
    # BookView(...) field by field, without its Python-level __new__ (the same tuple)
    return tuple.__new__(BookView, (
        legs, tuple(missing_assets), tuple(missing_prices), margin_symbol,
        margin_fixed if margin_symbol is not None else 0, margin_price, margin_weighted,
        weighted + margin_weighted, debt, long, short, tuple(top), min(stamps, default=0),
        max(stamps, default=0), losses, missing_scen, abs_value))  # fmt: skip
