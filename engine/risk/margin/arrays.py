"""The public risk-array file: scenarios, one array per instrument, and accepted collateral.

A clearing side publishes it; `zkrisk margin`, the pre-trade margin rule and the
PortfolioMargin statement all read the same exact integers from it (PRICE scale: USD per unit).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Self

from pydantic import Field, PrivateAttr, model_validator

from .. import fixed_point as fp
from ..models import ExactDecimal, Portfolio, Symbol, _Frozen
from .requirement import ARRAY_BITS, MarginRequirement, margin_requirement


def _signed(x: Decimal, name: str) -> int:
    return fp.to_signed_fixed(x, fp.PRICE_DECIMALS, ARRAY_BITS + 1, name=name)


class RiskArray(_Frozen):
    """One instrument's published risk array."""

    symbol: Symbol
    pnl: tuple[ExactDecimal, ...] = Field(min_length=1)
    """USD P&L of one long unit under each scenario (gain > 0), at most 8 decimals."""
    short_option_minimum: ExactDecimal = Field(default=Decimal(0), ge=0)
    """USD charged per short unit whatever the scenarios say (options; 0 otherwise)."""

    _pnl_fixed: tuple[int, ...] = PrivateAttr(default=())
    _som_fixed: int = PrivateAttr(default=0)

    def model_post_init(self, context: Any, /) -> None:
        self._pnl_fixed = tuple(
            _signed(v, f"{self.symbol}.pnl[{s}]") for s, v in enumerate(self.pnl)
        )
        self._som_fixed = fp.to_fixed(
            self.short_option_minimum, fp.PRICE_DECIMALS, ARRAY_BITS,
            name=f"{self.symbol}.short_option_minimum",
        )  # fmt: skip

    @property
    def pnl_fixed(self) -> tuple[int, ...]:
        return self._pnl_fixed

    @property
    def som_fixed(self) -> int:
        return self._som_fixed


class RiskArraySet(_Frozen):
    """Scenario labels, one risk array per instrument, USD value of each margin asset."""

    scenarios: tuple[str, ...] = Field(min_length=1, max_length=1024)
    """One label per scenario, in array order."""
    instruments: tuple[RiskArray, ...] = Field(min_length=1, max_length=fp.MAX_POSITIONS)
    collateral: dict[Symbol, ExactDecimal] = Field(default_factory=dict)
    """USD credited per unit of each accepted margin asset (after any haircut)."""

    _by_symbol: dict[str, RiskArray] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> Self:
        symbols = [a.symbol for a in self.instruments]
        duplicates = sorted({s for s in symbols if symbols.count(s) > 1})
        if duplicates:
            raise ValueError(f"duplicate instruments: {', '.join(duplicates)}")
        for a in self.instruments:
            if len(a.pnl) != len(self.scenarios):
                raise ValueError(
                    f"{a.symbol}: {len(a.pnl)} P&L entries for {len(self.scenarios)} scenarios; "
                    "give one per scenario label"
                )
        for symbol, price in self.collateral.items():
            fp.to_price(price, name=f"collateral.{symbol}")
        return self

    def model_post_init(self, context: Any, /) -> None:
        self._by_symbol = {a.symbol: a for a in self.instruments}

    def array(self, symbol: str) -> RiskArray | None:
        return self._by_symbol.get(symbol)

    def missing(self, symbols: Sequence[str]) -> list[str]:
        """Book symbols without a risk array (the requirement cannot be decided for them)."""
        return sorted(s for s in symbols if s not in self._by_symbol)

    def margin_held(self, portfolio: Portfolio) -> int:
        """The book's margin in USD at VALUE scale (margin quantity · collateral value)."""
        if portfolio.margin_fixed == 0:
            return 0
        symbol = portfolio.margin_symbol
        if symbol is None or symbol not in self.collateral:
            raise ValueError(
                f"margin asset {symbol} is not accepted collateral in the risk-array file: add "
                f"it under [collateral] with its USD value per unit"
            )
        return portfolio.margin_fixed * fp.to_price(self.collateral[symbol])

    def requirement(self, quantities: Mapping[str, int]) -> MarginRequirement:
        """The SPAN requirement of signed quantities (QTY scale) by symbol."""
        missing = self.missing([s for s, q in quantities.items() if q])
        if missing:
            raise ValueError(f"no risk array for {', '.join(missing)}: the clearing side must "
                             "publish one for every instrument in the book")  # fmt: skip
        held = [(s, q) for s, q in quantities.items() if q]
        if not held:
            return MarginRequirement(losses=(0,) * len(self.scenarios), short_option_minimum=0)
        return margin_requirement(
            [q for _, q in held],
            [self._by_symbol[s].pnl_fixed for s, _ in held],
            [self._by_symbol[s].som_fixed for s, _ in held],
        )
