"""Momentum: a moving-average crossover of mids.

When the fast mean of the last `fast` mids crosses above the slow mean of the last `slow` mids
the strategy targets a long position of `quantity`; when it crosses below, a short of
`quantity` (or flat when `allow_short` is false). It orders the difference between the target
and its paper position, as a limit at the quote side it would cross (ask to buy, bid to sell).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ...journal.events import Quote, Trade
from ...risk.models import ExactDecimal
from .base import (
    DECIMAL,
    DecimalText,
    Decision,
    JSONValue,
    StateModel,
    StrategyContext,
    check_window,
    mid,
    mids_state,
    target_decision,
)


class MomentumParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    fast: Annotated[int, Field(ge=1)] = 5
    """Quotes in the fast moving average."""
    slow: Annotated[int, Field(ge=2)] = 20
    """Quotes in the slow moving average (> fast)."""
    quantity: Annotated[ExactDecimal, Field(gt=0)]
    """Size of the target position, asset units."""
    allow_short: bool = True
    """A downward cross targets -quantity (true) or flat (false)."""

    @model_validator(mode="after")
    def _fast_below_slow(self) -> Self:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be below slow ({self.slow})")
        return self


class MomentumState(StateModel):
    """What `MomentumStrategy.state()` returns (the schema `restore` checks)."""

    mids: dict[str, list[DecimalText]]
    trend: dict[str, Literal[-1, 1]]


class MomentumStrategy:
    def __init__(self, strategy_id: str, params: Mapping[str, Any]) -> None:
        self._id = strategy_id
        self.params = MomentumParams.model_validate(params)
        self._mids: dict[str, deque[Decimal]] = {}
        self._trend: dict[str, int] = {}
        """Per symbol: +1 fast above slow, -1 below (equal keeps the last side)."""

    @property
    def id(self) -> str:
        return self._id

    def on_quote(self, quote: Quote, context: StrategyContext) -> Sequence[Decision]:
        p = self.params
        mids = self._mids.setdefault(quote.symbol, deque(maxlen=p.slow))
        mids.append(mid(quote))
        if len(mids) < p.slow:
            return []
        window = list(mids)
        fast = DECIMAL.divide(sum(window[-p.fast :], Decimal(0)), Decimal(p.fast))
        slow = DECIMAL.divide(sum(window, Decimal(0)), Decimal(p.slow))
        if fast == slow:
            return []
        trend = 1 if fast > slow else -1
        previous = self._trend.get(quote.symbol)
        self._trend[quote.symbol] = trend
        if previous is None or previous == trend:
            return []  # the first full window only sets the side; a signal is a change of side
        short = -p.quantity if p.allow_short else Decimal(0)
        target = p.quantity if trend > 0 else short
        return target_decision(quote, context.position, target)

    def on_trade(self, trade: Trade, context: StrategyContext) -> Sequence[Decision]:
        return []

    # -- snapshots ------------------------------------------------------------------------

    def state(self) -> dict[str, JSONValue]:
        trend: dict[str, JSONValue] = {s: t for s, t in sorted(self._trend.items())}
        return {"mids": mids_state(self._mids), "trend": trend}

    def restore(self, state: Mapping[str, Any]) -> None:
        loaded = MomentumState.model_validate(state)
        check_window(loaded.mids, self.params.slow, "slow")
        self._mids = {s: deque(m, maxlen=self.params.slow) for s, m in loaded.mids.items()}
        self._trend = {s: int(t) for s, t in loaded.trend.items()}
