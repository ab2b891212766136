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


class CrossEveryNth:
    """Every `every`-th quote, a limit order that crosses the quote by `cross_bps` (so a venue
    whose book sits near the feed fills it), alternating buy and sell: a strategy that keeps a
    venue busy while its position stays near flat."""

    def __init__(self, strategy_id: str, params: Mapping[str, Any]) -> None:
        self._id = strategy_id
        self.quantity = Decimal(str(params.get("quantity", "0.1")))
        self.every = int(params.get("every", 10))
        self.cross = Decimal(str(params.get("cross_bps", 100))) / 10_000
        self.seen = 0

    @property
    def id(self) -> str:
        return self._id

    def on_quote(self, quote: Quote, context: StrategyContext) -> Sequence[Decision]:
        self.seen += 1
        if self.seen % self.every:
            return []
        if (self.seen // self.every) % 2:
            price = (quote.ask * (1 + self.cross)).quantize(Decimal("0.01"))
            return [Decision(quote.symbol, Side.BUY, self.quantity, price)]
        price = (quote.bid * (1 - self.cross)).quantize(Decimal("0.01"))
        return [Decision(quote.symbol, Side.SELL, self.quantity, price)]

    def on_trade(self, trade: Trade, context: StrategyContext) -> Sequence[Decision]:
        return []

    def state(self) -> dict[str, JSONValue]:
        return {"seen": self.seen}

    def restore(self, state: Mapping[str, Any]) -> None:
        self.seen = int(state.get("seen", 0))
