"""The derivatives file: the terms of every perp and option a book may hold, plus the option rate.

A book holds derivatives the way it holds anything: a `Position` whose symbol this file defines
(e.g. `WETH-PERP`, `WETH-C3200`); a symbol the file does not define is spot. Prices come from the
price snapshot like every other symbol's: a perp's snapshot price is its mark price, an option's
its market premium (per unit of the underlying), from which its implied vol follows unless the
file fixes a `vol`.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from .. import fixed_point as fp
from ..models import ExactDecimal, Symbol, UnixSeconds


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


MarginBps = Annotated[int, Field(ge=1, le=fp.BPS_SCALE)]


class PerpContract(_Frozen):
    """A perpetual future: one contract is one unit of `underlying`, cash-settled in USD."""

    symbol: Symbol
    """The perp's symbol, e.g. 'WETH-PERP' (its price in the snapshot is the mark price)."""
    underlying: Symbol
    """The spot symbol it tracks, e.g. 'WETH': its delta counts there, 1 per contract."""
    initial_margin_bps: MarginBps
    """Initial margin rate, bps of |q|·mark (1,000 = 10 %, i.e. 10× leverage)."""
    maintenance_margin_bps: MarginBps
    """Maintenance margin rate, bps of |q|·mark; at most the initial rate."""
    funding_rate: ExactDecimal = Field(default=Decimal(0), gt=-1, lt=1)
    """The current interval's funding rate (0.0001 = 0.01 %): longs pay q·mark·rate when > 0."""
    funding_interval_hours: int = Field(default=8, ge=1, le=24)
    """Hours between funding payments."""

    @model_validator(mode="after")
    def _maintenance_below_initial(self) -> Self:
        if self.maintenance_margin_bps > self.initial_margin_bps:
            raise ValueError(
                f"maintenance_margin_bps ({self.maintenance_margin_bps}) must not exceed "
                f"initial_margin_bps ({self.initial_margin_bps})"
            )
        return self


class OptionContract(_Frozen):
    """A European option on one unit of `underlying`, cash-settled in USD."""

    symbol: Symbol
    """The option's symbol, e.g. 'WETH-C3200' (its price in the snapshot is its premium)."""
    underlying: Symbol
    """The spot symbol it is written on."""
    kind: Literal["call", "put"]
    """'call' or 'put'."""
    strike: ExactDecimal = Field(gt=0)
    """Strike, USD per unit of the underlying."""
    expiry: UnixSeconds
    """Expiry, unix seconds (time to expiry is measured from the price snapshot's taken_at)."""
    vol: ExactDecimal | None = Field(default=None, gt=0, le=10)
    """Annual volatility to value it at (0.6 = 60 %); omitted: implied from the premium."""

    def model_post_init(self, context: Any, /) -> None:
        fp.to_price(self.strike, name=f"option {self.symbol} strike")


class DerivativesFile(_Frozen):
    """Every derivative contract a book may hold."""

    rate: ExactDecimal = Field(default=Decimal(0), gt=-1, lt=1)
    """Risk-free rate for option valuation, annual, continuously compounded (0.04 = 4 %)."""
    perps: tuple[PerpContract, ...] = ()
    """Perpetual futures."""
    options: tuple[OptionContract, ...] = ()
    """European options."""

    _by_symbol: dict[str, PerpContract | OptionContract] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> Self:
        symbols = [c.symbol for c in self._all()]
        duplicates = sorted({s for s in symbols if symbols.count(s) > 1})
        if duplicates:
            raise ValueError(f"a symbol is defined twice: {', '.join(duplicates)}")
        underlyings = {c.underlying for c in self._all()}
        derived = sorted(underlyings & set(symbols))
        if derived:
            raise ValueError(
                f"underlying {', '.join(derived)} is itself a derivative here: "
                "an underlying must be a spot symbol"
            )
        return self

    def _all(self) -> list[PerpContract | OptionContract]:
        return [*self.perps, *self.options]

    def model_post_init(self, context: Any, /) -> None:
        self._by_symbol = {c.symbol: c for c in self._all()}

    @property
    def contracts(self) -> Mapping[str, PerpContract | OptionContract]:
        """Every contract by symbol."""
        value: dict[str, PerpContract | OptionContract] = self.__pydantic_private__["_by_symbol"]  # type: ignore[index]
        return value

    def perp_for(self, underlying: str) -> PerpContract | None:
        """The first perp on `underlying` (the hedge instrument for `--via perp`)."""
        return next((p for p in self.perps if p.underlying == underlying), None)
