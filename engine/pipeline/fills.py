"""Stage 5's core: fills deduplicated and matched to their orders, positions, and exits.

`apply_fill` decides what one venue `Fill` report becomes: nothing (a duplicate), an
`OrderFilled` draft (key 'fill:<venue>:<fill id>', or 'fill:<venue>:<client order id>:<fill
sequence>' where the venue has no fill id), or a `Quarantined` draft (key 'qfill:<venue>:<sha256
of the raw fill>') with a stable reason: UNKNOWN_FILL (no such order), OVERFILL (more than the
order's quantity), FILL_MISMATCH (another symbol, side or venue than the order's),
FILL_WITHOUT_ID (neither a fill id nor a sequence: it could not be deduplicated), MALFORMED_FILL
(quantity or price not positive) and FILL_NOT_ALLOWED (a fill for a rejected or denied order).
A fill for a canceled or timed-out order is a late fill and is applied. Dedupe reads `Orders`
(the fill keys it folded), so the fills consumer folds each record it appends before it decides
the next report.

`Positions` is the one owner of positions: per symbol, the signed quantity, average entry
price, realised P&L net of fees (fees in a quote currency; others are tallied apart), and
unrealised P&L at the latest mid of the `Quote`s on `md.*` streams. It folds `OrderFilled` and
those quotes, with the paper book's position math (`paper.apply_trade`), in one Decimal context,
and snapshots to canonical JSON, so snapshot + tail equals a from-scratch replay.

`exits` turns a quote that crosses a position's stop-loss or take-profit level into a reducing
`IntentEmitted` draft (strategy 'exit:stop_loss' / 'exit:take_profit'), which goes through the
pre-trade gate like any other intent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum
from typing import Annotated, Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, Strict

from ..journal.events import Draft, IntentEmitted, OrderFilled, Quarantined, Quote, Recorded
from ..risk import fixed_point as fp
from ..risk.models import OrderIntent, OrderType, Side, Symbol
from .orders import TRANSITIONS, Orders, Trigger
from .paper import Holding, Mark, apply_trade, is_market_data
from .signal import client_order_id
from .strategies.base import DECIMAL, DecimalText, StateModel, mid
from .venues.base import Fill

ZERO = Decimal(0)
_QTY_STEP = Decimal(1).scaleb(-fp.QTY_DECIMALS)
_BPS = Decimal(10_000)
RAW_LIMIT = 2_000
"""Longest raw text kept in a quarantined fill."""


class FillOutcomeKind(StrEnum):
    APPLIED = "APPLIED"
    DUPLICATE = "DUPLICATE"
    QUARANTINED = "QUARANTINED"


class FillOutcome(NamedTuple):
    """A NamedTuple, not a frozen dataclass: one per fill report, on the hot path."""

    kind: FillOutcomeKind
    key: str
    """The fill's journal key (the quarantine key when quarantined)."""
    draft: Draft | None = None
    """OrderFilled or Quarantined to append; None for a duplicate."""
    reason: str = ""


def fill_key(venue: str, report: Fill) -> str | None:
    """The fill's identity: the venue's fill id, else (client order id, fill sequence)."""
    if report.fill_id:
        return f"fill:{venue}:{report.fill_id}"
    if report.client_order_id and report.fill_seq > 0:
        return f"fill:{venue}:{report.client_order_id}:{report.fill_seq}"
    return None


def raw_fill(report: Fill) -> str:
    """The report as canonical JSON (Decimals as strings): what a quarantine keeps and hashes."""
    return json.dumps(asdict(report), sort_keys=True, separators=(",", ":"), default=str)


def apply_fill(
    report: Fill, venue: str, orders: Orders, *, event_time_ns: int, recv_time_ns: int
) -> FillOutcome:
    """What a venue's fill report becomes (see the module docstring). Pure: reads `orders`."""
    key = fill_key(venue, report)
    if key is not None and key in orders.fill_index:
        return FillOutcome(FillOutcomeKind.DUPLICATE, key)
    if key is None:
        return _quarantine(report, venue, "FILL_WITHOUT_ID", "the fill has no fill id and no "
                           "fill sequence, so a repeat of it could not be recognised",
                           event_time_ns, recv_time_ns)  # fmt: skip
    order = orders.orders.get(report.client_order_id) if report.client_order_id else None
    if order is None:
        return _quarantine(report, venue, "UNKNOWN_FILL", f"no order {report.client_order_id!r} "
                           f"was submitted here; {report.quantity} {report.symbol} at "
                           f"{report.price} is held for reconciliation",
                           event_time_ns, recv_time_ns)  # fmt: skip
    spec = order.spec
    if (report.symbol, report.side, venue) != (spec.symbol, spec.side, spec.venue):
        return _quarantine(report, venue, "FILL_MISMATCH", f"the fill is {report.side} "
                           f"{report.symbol} on {venue} but order {spec.client_order_id} is "
                           f"{spec.side} {spec.symbol} on {spec.venue}",
                           event_time_ns, recv_time_ns)  # fmt: skip
    if report.quantity <= 0 or report.price <= 0:
        return _quarantine(report, venue, "MALFORMED_FILL", f"quantity {report.quantity} and "
                           f"price {report.price} must both be > 0", event_time_ns,
                           recv_time_ns)  # fmt: skip
    after = order.filled + report.quantity
    if after > spec.quantity:
        return _quarantine(report, venue, "OVERFILL", f"order {spec.client_order_id} is for "
                           f"{spec.quantity} and has {order.filled} filled: this fill of "
                           f"{report.quantity} would make {after}", event_time_ns,
                           recv_time_ns)  # fmt: skip
    trigger = Trigger.FILL_COMPLETE if after == spec.quantity else Trigger.FILL_PARTIAL
    if (order.status, trigger) not in TRANSITIONS:
        return _quarantine(report, venue, "FILL_NOT_ALLOWED", f"order {spec.client_order_id} is "
                           f"{order.status.value}: it cannot have been filled", event_time_ns,
                           recv_time_ns)  # fmt: skip
    event = OrderFilled(
        client_order_id=spec.client_order_id,
        venue=venue,
        fill_id=report.fill_id or f"{report.client_order_id}:{report.fill_seq}",
        venue_order_id=report.venue_order_id,
        strategy_id=spec.strategy_id,
        symbol=spec.symbol,
        side=spec.side,
        quantity=report.quantity,
        price=report.price,
        fee=report.fee,
        fee_currency=report.fee_currency,
        venue_time_ns=max(report.venue_time_ns, 0),
    )
    t = report.venue_time_ns or event_time_ns
    draft = Draft("fills", key, event, t, recv_time_ns, f"order:{spec.client_order_id}")
    return FillOutcome(FillOutcomeKind.APPLIED, key, draft)


def _quarantine(
    report: Fill, venue: str, reason: str, detail: str, event_time_ns: int, recv_time_ns: int
) -> FillOutcome:
    raw = raw_fill(report)
    key = f"qfill:{venue}:{hashlib.sha256(raw.encode()).hexdigest()}"
    event = Quarantined(source=venue, reason=reason, detail=detail, raw=raw[:RAW_LIMIT],
                        symbol=report.symbol or None)  # fmt: skip
    draft = Draft("fills", key, event, event_time_ns, recv_time_ns,
                  f"order:{report.client_order_id}" if report.client_order_id else None)  # fmt: skip
    return FillOutcome(FillOutcomeKind.QUARANTINED, key, draft, reason)


# --- positions -----------------------------------------------------------------------------


@dataclass(slots=True)
class Positions:
    """Positions and P&L per symbol across every venue (see the module docstring)."""

    quote_currencies: tuple[str, ...] = ("USDC", "USD")
    """Fees in these currencies are USD and come off realised P&L."""
    position: int = 0
    holdings: dict[str, Holding] = field(default_factory=dict)
    realised: dict[str, Decimal] = field(default_factory=dict)
    """Realised P&L per symbol, net of quote-currency fees, USD."""
    fees: dict[str, Decimal] = field(default_factory=dict)
    """Quote-currency fees paid per symbol, USD."""
    other_fees: dict[str, Decimal] = field(default_factory=dict)
    """Fees in other currencies, per currency (not in P&L: no price for them here)."""
    venue_quantity: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    """Signed quantity per (venue, symbol): what reconciliation compares with each venue."""
    marks: dict[str, Mark] = field(default_factory=dict)
    fills: int = 0

    def apply(self, recorded: Recorded) -> None:
        """Fold one journal record in (records at or before `position` are ignored)."""
        if recorded.position <= self.position:
            return
        self.position = recorded.position
        event = recorded.event
        if isinstance(event, OrderFilled):
            self.fill(event)
        elif isinstance(event, Quote) and is_market_data(recorded):
            last = self.marks.get(event.symbol)
            if last is None or recorded.event_time_ns >= last.event_time_ns:
                self.marks[event.symbol] = Mark(mid(event), recorded.event_time_ns,
                                                event.source_seq or 0)  # fmt: skip

    def fill(self, fill: OrderFilled) -> None:
        symbol, quantity = fill.symbol, fill.quantity
        signed = quantity if fill.side is Side.BUY else -quantity
        holding = self.holdings.get(symbol)
        if holding is None:
            holding = self.holdings[symbol] = Holding()
        realised, fee = apply_trade(holding, signed, fill.price), fill.fee
        pnl = self.realised.get(symbol, ZERO)
        if realised is not None:
            pnl = DECIMAL.add(pnl, realised)
        if fee and fill.fee_currency in self.quote_currencies:
            pnl = DECIMAL.subtract(pnl, fee)
            self.fees[symbol] = DECIMAL.add(self.fees.get(symbol, ZERO), fee)
        elif fee:
            cur = fill.fee_currency
            self.other_fees[cur] = DECIMAL.add(self.other_fees.get(cur, ZERO), fee)
        self.realised[symbol] = pnl
        where = (fill.venue, symbol)
        self.venue_quantity[where] = self.venue_quantity.get(where, ZERO) + signed
        self.fills += 1

    # -- readings -------------------------------------------------------------------------

    def quantity(self, symbol: str) -> Decimal:
        holding = self.holdings.get(symbol)
        return ZERO if holding is None else holding.quantity

    def average_price(self, symbol: str) -> Decimal:
        holding = self.holdings.get(symbol)
        return ZERO if holding is None else holding.average_price

    def realised_pnl(self, symbol: str | None = None) -> Decimal:
        if symbol is not None:
            return self.realised.get(symbol, ZERO)
        return sum(self.realised.values(), ZERO)

    def unrealised_pnl(self, symbol: str | None = None) -> Decimal:
        """Σ quantity · (mark − average price) over the marked open positions."""
        total = ZERO
        for s, h in self.holdings.items():
            mark = self.marks.get(s)
            if symbol in (None, s) and h.quantity and mark is not None:
                total = DECIMAL.add(total, DECIMAL.multiply(h.quantity,
                                                            mark.price - h.average_price))  # fmt: skip
        return total

    # -- snapshots ------------------------------------------------------------------------

    def to_json(self) -> Any:
        return {
            "quote_currencies": list(self.quote_currencies),
            "position": self.position,
            "holdings": [
                [s, str(h.quantity), str(h.average_price)] for s, h in sorted(self.holdings.items())
            ],
            "realised": {s: str(v) for s, v in self.realised.items()},
            "fees": {s: str(v) for s, v in self.fees.items()},
            "other_fees": {c: str(v) for c, v in self.other_fees.items()},
            "venue_quantity": [[v, s, str(q)] for (v, s), q in sorted(self.venue_quantity.items())],
            "marks": [
                [s, str(m.price), m.event_time_ns, m.source_seq]
                for s, m in sorted(self.marks.items())
            ],
            "fills": self.fills,
        }

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Positions:
        return cls.from_json(json.loads(data))

    @classmethod
    def from_json(cls, state: Any) -> Positions:
        """Checked field by field (ValueError when it does not fit): a snapshot is read data."""
        s = _PositionsState.model_validate(state)
        return cls(
            quote_currencies=tuple(s.quote_currencies),
            position=s.position,
            holdings={sym: Holding(q, a) for sym, q, a in s.holdings},
            realised=dict(s.realised),
            fees=dict(s.fees),
            other_fees=dict(s.other_fees),
            venue_quantity={(v, sym): q for v, sym, q in s.venue_quantity},
            marks={sym: Mark(p, t, q) for sym, p, t, q in s.marks},
            fills=s.fills,
        )

    def copy(self) -> Positions:
        return Positions.from_json(self.to_json())


_Count = Annotated[int, Field(ge=0)]
_Row = Strict(False)  # a JSON array is a row (strict mode would want a tuple); cells stay strict


class _PositionsState(StateModel):
    """The schema of `Positions.to_json()`."""

    quote_currencies: list[str]
    position: _Count
    holdings: list[Annotated[tuple[str, DecimalText, DecimalText], _Row]]
    realised: dict[str, DecimalText]
    fees: dict[str, DecimalText]
    other_fees: dict[str, DecimalText]
    venue_quantity: list[Annotated[tuple[str, str, DecimalText], _Row]]
    marks: list[Annotated[tuple[str, DecimalText, _Count, _Count], _Row]]
    fills: _Count


@dataclass(frozen=True, slots=True)
class PositionsProjection:
    """`Positions` as a journal `Projection` (snapshots, `check_projection`); the fills
    consumer keeps its own `Positions` and calls the in-place `apply`."""

    quote_currencies: tuple[str, ...] = ("USDC", "USD")
    name: str = "positions/v1"

    def initial(self) -> Positions:
        return Positions(quote_currencies=self.quote_currencies)

    def apply(self, state: Positions, record: Recorded) -> Positions:
        if record.position <= state.position:
            return state
        after = state.copy()
        after.apply(record)
        return after

    def to_bytes(self, state: Positions) -> bytes:
        return state.to_bytes()

    def from_bytes(self, data: bytes) -> Positions:
        return Positions.from_bytes(data)


# --- stop-loss / take-profit ---------------------------------------------------------------


class ExitLevels(BaseModel):
    """Exit distances from the average entry price, in bps (None: no such exit)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stop_loss_bps: int | None = Field(default=None, gt=0, le=10_000)
    """Exit when the mark moves this far against the position."""
    take_profit_bps: int | None = Field(default=None, gt=0)
    """Exit when the mark moves this far in the position's favour."""


class ExitPolicy(BaseModel):
    """Stop-loss / take-profit exits per position."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default: ExitLevels = ExitLevels()
    """Levels for symbols not in `symbols`."""
    symbols: dict[Symbol, ExitLevels] = Field(default_factory=dict)
    """Per-symbol levels overriding `default`."""
    venue: str = Field(min_length=1)
    """The counterparty the exit orders go to."""
    max_slippage_bps: int = Field(default=50, ge=0, le=10_000)
    """Exits are MARKET orders bounded by this slippage from the mark."""

    def levels(self, symbol: str) -> ExitLevels:
        return self.symbols.get(symbol, self.default)


STOP_LOSS, TAKE_PROFIT = "exit:stop_loss", "exit:take_profit"


def exit_reason(quantity: Decimal, average: Decimal, mark: Decimal, levels: ExitLevels) -> str:
    """STOP_LOSS / TAKE_PROFIT strategy id when the mark crosses a level, else ''."""
    if quantity == 0 or average <= 0:
        return ""
    move = DECIMAL.divide(DECIMAL.multiply(mark - average, _BPS), average)  # bps, signed
    favourable = move if quantity > 0 else -move
    if levels.stop_loss_bps is not None and favourable <= -levels.stop_loss_bps:
        return STOP_LOSS
    if levels.take_profit_bps is not None and favourable >= levels.take_profit_bps:
        return TAKE_PROFIT
    return ""


def exits(
    positions: Positions,
    quote: Recorded,
    policy: ExitPolicy,
    *,
    working: Collection[str] = (),
) -> list[Draft]:
    """The exit intent a market-data quote triggers for its symbol's position (at most one).

    The client order id is derived from the quote's key (`signal.client_order_id`), so a replay
    emits the same id; symbols in `working` (an exit already open: `Orders.working_symbols()`)
    are skipped, so a run of quotes past the level sends one exit, not one per quote."""
    event = quote.event
    if not isinstance(event, Quote) or not is_market_data(quote) or event.symbol in working:
        return []
    symbol = event.symbol
    holding = positions.holdings.get(symbol)
    if holding is None or holding.quantity == 0:
        return []
    mark = mid(event)
    strategy = exit_reason(holding.quantity, holding.average_price, mark, policy.levels(symbol))
    quantity = abs(holding.quantity).quantize(_QTY_STEP, rounding=ROUND_FLOOR)
    if not strategy or quantity <= 0:
        return []
    intent = OrderIntent(
        client_order_id=client_order_id(strategy, quote.key, 0),
        symbol=symbol,
        side=Side.SELL if holding.quantity > 0 else Side.BUY,
        quantity=quantity,
        order_type=OrderType.MARKET,
        max_slippage_bps=policy.max_slippage_bps,
        counterparty=policy.venue,
        strategy_id=strategy,
    )
    emitted = IntentEmitted(strategy_id=strategy, intent=intent, reference_price=mark)
    return [Draft("signal", f"intent:{strategy}:{quote.key}", emitted, quote.event_time_ns,
                  quote.recv_time_ns, quote.key)]  # fmt: skip
