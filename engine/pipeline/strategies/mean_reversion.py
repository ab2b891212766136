"""Mean reversion: the z-score of the mid against the rolling mean of the previous mids.

z = (mid - mean) / stdev over the last `window` mids (population stdev, the current mid not
included). z ≥ entry_z targets a short of `quantity`, z ≤ -entry_z a long, |z| ≤ exit_z flat.
It orders only when its target changes, as a limit at the quote side it would cross.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Annotated, Any, Self

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


class MeanReversionParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    window: Annotated[int, Field(ge=2)] = 20
    """Previous mids the mean and stdev are taken over."""
    entry_z: Annotated[ExactDecimal, Field(gt=0)] = Decimal(2)
    """|z| at or beyond which the strategy takes a position against the move."""
    exit_z: Annotated[ExactDecimal, Field(ge=0)] = Decimal("0.5")
    """|z| at or below which it goes flat (< entry_z)."""
    quantity: Annotated[ExactDecimal, Field(gt=0)]
    """Size of the target position, asset units."""

    @model_validator(mode="after")
    def _exit_inside_entry(self) -> Self:
        if self.exit_z >= self.entry_z:
            raise ValueError(f"exit_z ({self.exit_z}) must be below entry_z ({self.entry_z})")
        return self


def z_score(value: Decimal, history: Sequence[Decimal]) -> Decimal | None:
    """(value - mean) / population stdev of `history`; None when the stdev is 0."""
    n = Decimal(len(history))
    mean = DECIMAL.divide(sum(history, Decimal(0)), n)
    variance = DECIMAL.divide(sum((DECIMAL.power(x - mean, 2) for x in history), Decimal(0)), n)
    if variance == 0:
        return None
    return DECIMAL.divide(DECIMAL.subtract(value, mean), DECIMAL.sqrt(variance))


class MeanReversionState(StateModel):
    """What `MeanReversionStrategy.state()` returns (the schema `restore` checks)."""

    mids: dict[str, list[DecimalText]]
    target: dict[str, DecimalText]


class MeanReversionStrategy:
    def __init__(self, strategy_id: str, params: Mapping[str, Any]) -> None:
        self._id = strategy_id
        self.params = MeanReversionParams.model_validate(params)
        self._mids: dict[str, deque[Decimal]] = {}
        self._target: dict[str, Decimal] = {}

    @property
    def id(self) -> str:
        return self._id

    def on_quote(self, quote: Quote, context: StrategyContext) -> Sequence[Decision]:
        p = self.params
        mids = self._mids.setdefault(quote.symbol, deque(maxlen=p.window))
        current = mid(quote)
        z = z_score(current, mids) if len(mids) == p.window else None
        mids.append(current)
        if z is None:
            return []
        if z >= p.entry_z:
            target = -p.quantity
        elif z <= -p.entry_z:
            target = p.quantity
        elif abs(z) <= p.exit_z:
            target = Decimal(0)
        else:
            return []  # between exit and entry: hold
        if self._target.get(quote.symbol, Decimal(0)) == target:
            return []
        self._target[quote.symbol] = target
        return target_decision(quote, context.position, target)

    def on_trade(self, trade: Trade, context: StrategyContext) -> Sequence[Decision]:
        return []

    # -- snapshots ------------------------------------------------------------------------

    def state(self) -> dict[str, JSONValue]:
        target: dict[str, JSONValue] = {s: str(t) for s, t in sorted(self._target.items())}
        return {"mids": mids_state(self._mids), "target": target}

    def restore(self, state: Mapping[str, Any]) -> None:
        loaded = MeanReversionState.model_validate(state)
        check_window(loaded.mids, self.params.window, "window")
        self._mids = {s: deque(m, maxlen=self.params.window) for s, m in loaded.mids.items()}
        self._target = dict(loaded.target)
