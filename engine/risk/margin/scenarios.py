"""SPAN's scenario grid and the risk arrays it produces for linear instruments and options.

CME's standard 16 scenarios (CME SPAN Methodology Overview, "Risk Arrays"): the price moves by
0, ±1/3, ±2/3, ±3/3 of the instrument's price scan range, each with volatility up and down by
the volatility scan range (0 only once per vol move, so 14), plus the two extreme moves of ±2×
the price scan range at unchanged volatility, of which only the cover fraction (35%) counts.

A risk array entry is cover · (value(price + move·scan, vol + vol_move·vol_scan) − value(price,
vol)) for one long unit, in USD, rounded half-even to PRICE scale: the published integers are
the data every later step (engine requirement, circuit) uses exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

from .. import fixed_point as fp
from ..instruments.black_scholes import OptionKind, bs_price

#: The cover fraction of CME's extreme-move scenarios.
EXTREME_COVER = Fraction(35, 100)

#: value(price, vol) of one unit, USD: what a risk array differences.
Valuation = Callable[[float, float], float]


@dataclass(frozen=True)
class Scenario:
    """A price move (fraction of the price scan range), a vol move (−1, 0, +1 scan ranges) and
    the fraction of the resulting P&L that counts."""

    price_move: Fraction
    vol_move: int
    cover: Fraction = Fraction(1)

    @property
    def label(self) -> str:
        vol = {1: "vol up", -1: "vol down", 0: "vol same"}[self.vol_move]
        move = self.price_move
        price = "price same" if move == 0 else f"price {'+' if move > 0 else '-'}{abs(move)} scan"
        cover = "" if self.cover == 1 else f", {self.cover * 100}% cover"
        return f"{price}, {vol}{cover}"


def span_scenarios(steps: int = 3, extreme: Fraction = Fraction(2)) -> tuple[Scenario, ...]:
    """SPAN's grid in CME's order: (2·steps + 1) price moves × vol up/down, then ±extreme.

    steps = 3 gives CME's 16 standard scenarios."""
    if steps < 1:
        raise ValueError("steps must be ≥ 1 (moves of ±k/steps of the scan range)")
    grid: list[Scenario] = []
    for k in range(steps + 1):
        for sign in (1, -1) if k else (1,):
            for vol in (1, -1):
                grid.append(Scenario(Fraction(sign * k, steps), vol))
    grid += [Scenario(extreme, 0, EXTREME_COVER), Scenario(-extreme, 0, EXTREME_COVER)]
    return tuple(grid)


def _to_price_scale(x: float, name: str) -> int:
    exact = Decimal(repr(x)).quantize(Decimal(1).scaleb(-fp.PRICE_DECIMALS), ROUND_HALF_EVEN)
    return fp.to_signed_fixed(exact, fp.PRICE_DECIMALS, fp.PRICE_BITS, name=name)


def risk_array(
    value: Valuation,
    price: float,
    vol: float,
    price_scan: float,
    vol_scan: float,
    scenarios: tuple[Scenario, ...],
) -> tuple[int, ...]:
    """One unit's P&L per scenario (PRICE scale, gain > 0) under the valuation `value`."""
    if price_scan <= 0 or vol_scan < 0:
        raise ValueError("the price scan range must be > 0 and the vol scan range ≥ 0")
    base = value(price, vol)
    out = []
    for i, s in enumerate(scenarios):
        moved_price = price + float(s.price_move) * price_scan
        if moved_price <= 0:
            raise ValueError(
                f"scenario {i} ({s.label}) moves the price {price} to {moved_price}: use a price "
                f"scan range below price / {abs(s.price_move)}"
            )
        moved = value(moved_price, vol + s.vol_move * vol_scan)
        out.append(_to_price_scale(float(s.cover) * (moved - base), f"risk array entry {i}"))
    return tuple(out)


def linear_value(price: float, vol: float) -> float:
    """Spot and perpetuals: one unit is worth its price (funding is settled, not scanned)."""
    del vol
    return price


def option_value(strike: float, t_years: float, rate: float, kind: OptionKind) -> Valuation:
    """A European option's Black–Scholes value as a function of (underlying price, vol)."""

    def value(price: float, vol: float) -> float:
        return bs_price(price, strike, t_years, rate, vol, kind)

    return value
