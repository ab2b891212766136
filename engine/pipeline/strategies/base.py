"""The strategy plug-in interface and its loader.

A strategy sees validated market events and answers with `Decision`s (side, size, limit); the
signal stage turns those into `OrderIntent`s with deterministic client order ids, so a strategy
can never break idempotency. A strategy class is built as `cls(strategy_id, params)` where
`params` is the run config's mapping (each shipped class validates it with a frozen pydantic
model). Classes are named in the run config by a dotted path `package.module:Class`, by the
name of an entry point in the group `zkrisk.strategies`, or by a shipped short name.

Determinism: a strategy's decisions must be a pure function of the events it was shown (in
order) and the contexts it was given; no clocks, no randomness, Decimal arithmetic only. That is
what makes a replay after a crash emit the same intents with the same ids.

Snapshots: a strategy that also has `state()` and `restore(state)` (`StatefulStrategy`) lets the
signal stage be snapshotted, so start-up replays only the journal's tail. The state is plain
JSON (Decimals as strings), never pickle: a journal file must not be able to run code. There is
deliberately no default: "no state" would be silently wrong for a plug-in that keeps some, so a
stage with a strategy lacking them refuses to snapshot (saying which) and the runner replays
from genesis.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal
from importlib.metadata import entry_points
from typing import Annotated, Any, Protocol, TypeAlias, runtime_checkable

from pydantic import BaseModel, BeforeValidator, ConfigDict, Strict, ValidationError

from ...journal.events import Quote, Trade
from ...risk.models import Side

ENTRY_POINT_GROUP = "zkrisk.strategies"

#: Shipped strategies by short name (also usable as dotted paths).
BUILTIN = {
    "momentum": "zkrisk.engine.pipeline.strategies.momentum:MomentumStrategy",
    "mean_reversion": "zkrisk.engine.pipeline.strategies.mean_reversion:MeanReversionStrategy",
}

#: The arithmetic context of every strategy computation: fixed precision and rounding, so the
#: result never depends on the caller's thread-local decimal context.
DECIMAL = Context(prec=28, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True, slots=True)
class Decision:
    """What a strategy wants: the stage turns it into an `OrderIntent`."""

    symbol: str
    side: Side
    quantity: Decimal
    limit_price: Decimal
    """Worst acceptable price (the quote side it would cross, for an aggressive order)."""


@dataclass(frozen=True, slots=True)
class StrategyContext:
    """What the stage tells a strategy besides the event."""

    position: Decimal
    """The strategy's own paper position in the event's symbol (signed)."""
    event_time_ns: int


@runtime_checkable
class Strategy(Protocol):
    @property
    def id(self) -> str: ...

    def on_quote(self, quote: Quote, context: StrategyContext) -> Sequence[Decision]: ...

    def on_trade(self, trade: Trade, context: StrategyContext) -> Sequence[Decision]: ...


#: What a strategy's `state()` may hold: JSON without floats (Decimals travel as strings).
JSONValue: TypeAlias = str | int | bool | list["JSONValue"] | dict[str, "JSONValue"] | None


@runtime_checkable
class StatefulStrategy(Strategy, Protocol):
    """A strategy whose state can be snapshotted (optional; see the module docstring)."""

    def state(self) -> dict[str, JSONValue]:
        """Everything its future decisions depend on beyond its params, as canonical JSON."""
        ...

    def restore(self, state: Mapping[str, Any]) -> None:
        """Load `state()`'s output into a freshly built instance (same id and params);
        raise ValueError when it does not fit (e.g. a longer window than the params allow)."""
        ...


def _decimal_text(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError(f"a Decimal in a snapshot is a string such as '101.5', not {value!r}")
    return value


#: A Decimal as a snapshot stores it: a string, finite (pydantic refuses NaN and infinities).
DecimalText = Annotated[Decimal, Strict(False), BeforeValidator(_decimal_text)]


class StateModel(BaseModel):
    """Base of the shipped strategies' state schemas: strict, frozen, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


def mids_state(mids: Mapping[str, Sequence[Decimal]]) -> dict[str, JSONValue]:
    """Per-symbol mids as JSON (oldest first, Decimals as strings)."""
    return {symbol: [str(m) for m in values] for symbol, values in sorted(mids.items())}


def check_window(mids: Mapping[str, Sequence[Decimal]], window: int, name: str) -> None:
    """A restored window may not hold more mids than the params keep."""
    for symbol, values in mids.items():
        if len(values) > window:
            raise ValueError(
                f"state holds {len(values)} mids of {symbol} but {name} is {window}: the "
                "snapshot was taken with other params"
            )


class StrategyLoadError(ValueError):
    """A strategy named in the run config cannot be loaded or built; the message says why."""


def resolve(spec: str) -> type[Any]:
    """The class named by `spec`: 'package.module:Class', an entry point name, or a short name."""
    path = BUILTIN.get(spec, spec)
    if ":" in path:
        return _import(spec, path)
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == spec]
    if not found:
        known = sorted({*BUILTIN, *(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))})
        raise StrategyLoadError(
            f"strategy {spec!r} is neither a dotted path 'package.module:Class' nor an entry "
            f"point in the group {ENTRY_POINT_GROUP!r}; known names: {', '.join(known)}"
        )
    try:
        loaded = found[0].load()
    except Exception as exc:
        raise StrategyLoadError(
            f"strategy {spec!r}: entry point {found[0].value!r} fails to load: {exc}"
        ) from exc
    if not isinstance(loaded, type):
        raise StrategyLoadError(f"strategy {spec!r}: entry point {found[0].value!r} is no class")
    return loaded


def _import(spec: str, path: str) -> type[Any]:
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise StrategyLoadError(
            f"strategy {spec!r}: a dotted path needs both parts, 'package.module:Class'"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise StrategyLoadError(
            f"strategy {spec!r}: module {module_name!r} cannot be imported ({exc}); check the "
            "spelling and that the package is installed in this environment"
        ) from exc
    loaded = getattr(module, attr, None)
    if not isinstance(loaded, type):
        raise StrategyLoadError(f"strategy {spec!r}: module {module_name!r} has no class {attr!r}")
    return loaded


def build(spec: str, strategy_id: str, params: Mapping[str, Any]) -> Strategy:
    """Load the class named by `spec` and build it with the run config's parameters."""
    cls = resolve(spec)
    try:
        strategy = cls(strategy_id, params)
    except ValidationError as exc:
        raise StrategyLoadError(
            f"strategy {strategy_id!r} ({spec}): bad params: {exc.errors(include_url=False)}"
        ) from exc
    except TypeError as exc:
        raise StrategyLoadError(
            f"strategy {strategy_id!r} ({spec}): the class must be built as "
            f"cls(strategy_id, params): {exc}"
        ) from exc
    if not isinstance(strategy, Strategy):
        raise StrategyLoadError(
            f"strategy {strategy_id!r} ({spec}): {cls.__qualname__} lacks id, on_quote or "
            "on_trade (see zkrisk.engine.pipeline.strategies.base.Strategy)"
        )
    return strategy


_last_mid: tuple[Quote | None, Decimal] = (None, Decimal(0))
"""The last quote's mid: a quote's fold asks four times (positions, the monitor's and the
signal stage's books, the intent's reference price); a Quote is frozen, so its identity is
its bid and ask."""


def mid(quote: Quote) -> Decimal:
    """(bid + ask) / 2, exact (one more decimal place at most)."""
    global _last_mid
    last = _last_mid
    if last[0] is quote:
        return last[1]
    value = DECIMAL.divide(DECIMAL.add(quote.bid, quote.ask), Decimal(2))
    _last_mid = (quote, value)
    return value


def target_decision(quote: Quote, position: Decimal, target: Decimal) -> list[Decision]:
    """The order that moves `position` to `target`, priced at the side it would cross."""
    delta = target - position
    if delta > 0:
        return [Decision(quote.symbol, Side.BUY, delta, quote.ask)]
    if delta < 0:
        return [Decision(quote.symbol, Side.SELL, -delta, quote.bid)]
    return []
