"""A plug-in strategy for the runner tests (loaded by its dotted path, as a user's would be)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from zkrisk.engine.journal.events import Quote, Trade
from zkrisk.engine.pipeline.strategies.base import Decision, JSONValue, StrategyContext
from zkrisk.engine.risk.models import Side


class BuyEveryQuote:
    """Buys `quantity` at the ask on every quote: the simplest strategy that keeps asking."""

    def __init__(self, strategy_id: str, params: Mapping[str, Any]) -> None:
        self._id = strategy_id
        self.quantity = Decimal(str(params.get("quantity", "1")))

    @property
    def id(self) -> str:
        return self._id

    def on_quote(self, quote: Quote, context: StrategyContext) -> Sequence[Decision]:
        return [Decision(quote.symbol, Side.BUY, self.quantity, quote.ask)]

    def on_trade(self, trade: Trade, context: StrategyContext) -> Sequence[Decision]:
        return []

    def state(self) -> dict[str, JSONValue]:
        return {}

    def restore(self, state: Mapping[str, Any]) -> None:
        if state:
            raise ValueError(f"BuyEveryQuote keeps no state, got {dict(state)}")
