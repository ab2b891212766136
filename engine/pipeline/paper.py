"""Paper mode: fills at the quote an approved intent would cross, and the paper book.

The paper book is a projection of the journal: `PaperFill`s move positions, average prices,
cash and realised P&L; `Quote`s on `md.*` streams mark positions at the mid (unrealised P&L).
Equity = starting equity + realised + unrealised P&L. Every number is a Decimal computed in one
fixed context, and the state serialises to canonical JSON, so a snapshot plus the tail equals a
from-scratch replay bit for bit.

`check_inputs` turns an intent plus the book into `RiskEngine.check`'s arguments, so the paper
pre-trade gate judges the same book the monitor marks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from functools import lru_cache
from operator import is_
from typing import Annotated, Any, NamedTuple

from pydantic import Field, Strict

from ..journal.events import Draft, OrderFilled, PaperFill, Quote, Recorded
from ..risk import fixed_point as fp
from ..risk.models import (
    CheckState,
    OrderIntent,
    Portfolio,
    PricePoint,
    PriceSnapshot,
    Side,
    TradingState,
    Verdict,
    VerdictKind,
    book_portfolio,
    book_position,
    price_point,
    price_snapshot,
)
from .strategies.base import DECIMAL, DecimalText, StateModel, mid

ZERO = Decimal(0)
CASH_CURRENCIES = frozenset({"USD", "USDC"})
"""Fees in these are paid from the book's cash (USD, what the starting equity is counted in)."""
_QTY_STEP = Decimal(1).scaleb(-fp.QTY_DECIMALS)
_PRICE_STEP = Decimal(1).scaleb(-fp.PRICE_DECIMALS)


def is_market_data(recorded: Recorded) -> bool:
    """Only ingest's validated output streams carry market data (never quarantine)."""
    return recorded.stream.startswith("md.")


# --- fills ---------------------------------------------------------------------------------


def fill_price(intent: OrderIntent, quote: Quote) -> Decimal | None:
    """The price an intent fills at against `quote`: the ask for a buy, the bid for a sell;
    None when a limit does not reach it."""
    if intent.side is Side.BUY:
        price = quote.ask
        reaches = intent.limit_price is None or price <= intent.limit_price
    else:
        price = quote.bid
        reaches = intent.limit_price is None or price >= intent.limit_price
    return price if reaches else None


def paper_fill(intent: OrderIntent, verdict: Verdict, quote: Quote) -> PaperFill | None:
    """The paper fill of an approved intent at `quote` (at most the displayed size), else None."""
    if verdict.kind is not VerdictKind.APPROVE or verdict.client_order_id != intent.client_order_id:
        return None
    if quote.symbol != intent.symbol:
        raise ValueError(f"quote of {quote.symbol} cannot fill an intent on {intent.symbol}")
    price = fill_price(intent, quote)
    if price is None:
        return None
    shown = quote.ask_size if intent.side is Side.BUY else quote.bid_size
    quantity = min(intent.quantity, shown).quantize(_QTY_STEP, rounding=ROUND_FLOOR)
    if quantity <= 0:
        return None
    return PaperFill(
        client_order_id=intent.client_order_id,
        strategy_id=intent.strategy_id,
        symbol=intent.symbol,
        side=intent.side,
        quantity=quantity,
        price=price,
    )


def paper_fill_draft(
    intent: OrderIntent,
    verdict: Verdict,
    quote: Quote,
    *,
    verdict_key: str,
    event_time_ns: int,
    recv_time_ns: int,
) -> Draft | None:
    """The `PaperFill` draft (stream 'pretrade', key 'paperfill:<client order id>')."""
    fill = paper_fill(intent, verdict, quote)
    if fill is None:
        return None
    return Draft(
        stream="pretrade",
        key=f"paperfill:{intent.client_order_id}",
        event=fill,
        event_time_ns=event_time_ns,
        recv_time_ns=recv_time_ns,
        causation_id=verdict_key,
    )


# --- the book ------------------------------------------------------------------------------


@dataclass(slots=True)
class Holding:
    quantity: Decimal = ZERO
    """Signed position, asset units."""
    average_price: Decimal = ZERO
    """Average entry price of the open position (0 when flat)."""


def apply_trade(holding: Holding, signed: Decimal, price: Decimal) -> Decimal | None:
    """Move `holding` by a signed fill at `price` (the paper book's and stage 5's position
    math); returns the P&L it realised, or None when it only opened or added."""
    held = holding.quantity
    after = held + signed
    realised: Decimal | None = None
    if held == 0 or (held > 0) == (signed > 0):
        cost = DECIMAL.add(abs(held) * holding.average_price, abs(signed) * price)
        holding.average_price = DECIMAL.divide(cost, abs(after))
    else:
        closed = min(abs(signed), abs(held))
        direction = 1 if held > 0 else -1
        realised = DECIMAL.multiply(closed * direction, price - holding.average_price)
        if after == 0:
            holding.average_price = ZERO
        elif (after > 0) != (held > 0):
            holding.average_price = price  # flipped: the rest opened at this fill
    holding.quantity = after
    return realised


@dataclass(slots=True)
class StrategyRecord:
    realised: Decimal = ZERO
    closing_fills: int = 0
    """Fills that closed (part of) a position: the trades a hit rate counts."""
    hits: int = 0
    """Closing fills that realised a profit."""
    fills: int = 0


@dataclass(frozen=True, slots=True)
class Mark:
    price: Decimal
    event_time_ns: int
    source_seq: int


def _price_point(mark: Mark) -> PricePoint:
    """A mark as the gate's price (frozen, so shared): made once per mark, not per check (the
    gate runs on every intent; a mark changes with its own symbol's quotes only), see
    `PaperBook.check_inputs`."""
    return price_point(mark.price.quantize(_PRICE_STEP, ROUND_FLOOR),
                       mark.event_time_ns // 1_000_000_000, mark.source_seq)  # fmt: skip


def _quote_point(price: Decimal, now: int) -> PricePoint:
    """The quote asset's price as the gate sees it: validated once per second of the clock
    (by its text: 1 and 1.0 are equal Decimals, not equal prices to print)."""
    return _quote_point_of(str(price), now)


@lru_cache(maxsize=16)
def _quote_point_of(price: str, now: int) -> PricePoint:
    return price_point(Decimal(price), now, 0)


class CheckInputs(NamedTuple):
    portfolio: Portfolio
    prices: PriceSnapshot
    state: CheckState


@dataclass(slots=True)
class PaperBook:
    """Positions and P&L per (strategy, symbol), marked at the latest mid."""

    starting_equity: Decimal
    position: int = 0
    """The last journal position applied (the snapshot position)."""
    cash: Decimal = ZERO
    """Cash flow of every fill (-quantity · price for a buy), USD."""
    holdings: dict[tuple[str, str], Holding] = field(default_factory=dict)
    marks: dict[str, Mark] = field(default_factory=dict)
    strategies: dict[str, StrategyRecord] = field(default_factory=dict)
    _portfolio: tuple[tuple[Any, ...], Portfolio] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    """The gate's last portfolio and what it was built from (see `check_inputs`)."""
    _points: dict[str, tuple[Mark, PricePoint]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """The gate's price per symbol and the mark it was made from (see `check_inputs`)."""

    # -- projection -----------------------------------------------------------------------

    def apply(self, recorded: Recorded) -> None:
        """Fold one journal record in (records at or before `position` are ignored)."""
        if recorded.position <= self.position:
            return
        self.position = recorded.position
        event = recorded.event
        if isinstance(event, PaperFill | OrderFilled):
            self.fill(event)
        elif isinstance(event, Quote) and is_market_data(recorded):
            self.mark(event, recorded.event_time_ns)

    def mark(self, quote: Quote, event_time_ns: int) -> None:
        """Mark at the quote's mid, unless a later quote has marked the symbol already."""
        last = self.marks.get(quote.symbol)
        if last is None or event_time_ns >= last.event_time_ns:
            self.marks[quote.symbol] = Mark(mid(quote), event_time_ns, quote.source_seq or 0)

    def fill(self, fill: PaperFill | OrderFilled) -> None:
        """A paper fill, or a venue's (the book of a live run: its quote-asset fee is cash
        paid; a fee in another asset, a chain's gas, is not in the book)."""
        holding = self.holdings.setdefault((fill.strategy_id, fill.symbol), Holding())
        record = self.strategies.setdefault(fill.strategy_id, StrategyRecord())
        signed = fill.quantity if fill.side is Side.BUY else -fill.quantity
        record.fills += 1
        self.cash = DECIMAL.subtract(self.cash, DECIMAL.multiply(signed, fill.price))
        if isinstance(fill, OrderFilled) and fill.fee and fill.fee_currency in CASH_CURRENCIES:
            self.cash = DECIMAL.subtract(self.cash, fill.fee)
        realised = apply_trade(holding, signed, fill.price)
        if realised is not None:
            record.realised = DECIMAL.add(record.realised, realised)
            record.closing_fills += 1
            record.hits += realised > 0

    # -- readings -------------------------------------------------------------------------

    def position_of(self, strategy_id: str, symbol: str) -> Decimal:
        holding = self.holdings.get((strategy_id, symbol))
        return ZERO if holding is None else holding.quantity

    def net_position(self, symbol: str) -> Decimal:
        return sum((h.quantity for (_, s), h in self.holdings.items() if s == symbol), ZERO)

    def realised(self, strategy_id: str | None = None) -> Decimal:
        records = self.strategies.items()
        return sum((r.realised for k, r in records if strategy_id in (None, k)), ZERO)

    def unrealised(self, strategy_id: str | None = None) -> Decimal:
        total = ZERO
        for (owner, symbol), h in self.holdings.items():
            mark = self.marks.get(symbol)
            if strategy_id in (None, owner) and h.quantity and mark is not None:
                total = DECIMAL.add(
                    total, DECIMAL.multiply(h.quantity, mark.price - h.average_price)
                )
        return total

    def pnl(self, strategy_id: str | None = None) -> Decimal:
        return DECIMAL.add(self.realised(strategy_id), self.unrealised(strategy_id))

    def equity(self) -> Decimal:
        return DECIMAL.add(self.starting_equity, self.pnl())

    # -- snapshots ------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        state = {
            "starting_equity": str(self.starting_equity),
            "position": self.position,
            "cash": str(self.cash),
            "holdings": [
                [k[0], k[1], str(h.quantity), str(h.average_price)]
                for k, h in sorted(self.holdings.items())
            ],
            "marks": [
                [s, str(m.price), m.event_time_ns, m.source_seq]
                for s, m in sorted(self.marks.items())
            ],
            "strategies": [
                [k, str(r.realised), r.closing_fills, r.hits, r.fills]
                for k, r in sorted(self.strategies.items())
            ],
        }
        return json.dumps(state, separators=(",", ":"), sort_keys=True).encode()

    def to_json(self) -> Any:
        """The state as plain JSON (what a stage snapshot embeds)."""
        return json.loads(self.to_bytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> PaperBook:
        return cls.from_json(json.loads(data))

    @classmethod
    def from_json(cls, state: Any) -> PaperBook:
        """The book from `to_json`'s output; checked field by field (ValueError when it does not
        fit), since a snapshot is data read back from a file."""
        s = _BookState.model_validate(state)
        return cls(
            starting_equity=s.starting_equity,
            position=s.position,
            cash=s.cash,
            holdings={(o, sym): Holding(q, a) for o, sym, q, a in s.holdings},
            marks={sym: Mark(p, t, q) for sym, p, t, q in s.marks},
            strategies={k: StrategyRecord(r, c, h, f) for k, r, c, h, f in s.strategies},
        )

    def copy(self) -> PaperBook:
        return PaperBook(
            starting_equity=self.starting_equity,
            position=self.position,
            cash=self.cash,
            holdings={k: Holding(h.quantity, h.average_price) for k, h in self.holdings.items()},
            marks=dict(self.marks),  # Mark is frozen
            strategies={
                k: StrategyRecord(r.realised, r.closing_fills, r.hits, r.fills)
                for k, r in self.strategies.items()
            },
        )

    # -- the pre-trade gate's view --------------------------------------------------------

    def check_inputs(
        self,
        intent: OrderIntent,
        *,
        account: str,
        quote_symbol: str,
        trading_state: TradingState,
        now: int,
        recent_order_times: tuple[int, ...] = (),
        quote_price: Decimal = Decimal(1),
    ) -> CheckInputs:
        """`RiskEngine.check(intent, *inputs)`'s arguments for this paper book.

        The book: the net position per symbol plus the quote asset holding starting equity plus
        the fills' cash flow (rounded down to the quantity scale: against the desk). Prices: the
        latest mids (rounded to the price scale), stamped with their quote's event time; the
        quote asset at `quote_price`, stamped `now`. Missing marks stay missing, so the gate
        fails closed on a symbol it has never seen quoted.
        """
        del intent  # the book does not depend on the order; kept for the call's readability
        # A mark is frozen and replaced by a new quote, so its point is reused while it stands
        # (compared by identity: no hashing of its Decimal per check).
        points = self._points
        prices: dict[str, PricePoint] = {}
        for s, m in self.marks.items():
            known = points.get(s)
            if known is not None and known[0] is m:
                prices[s] = known[1]
            else:
                point = prices[s] = _price_point(m)
                points[s] = (m, point)
        prices[quote_symbol] = _quote_point(quote_price, now)
        return CheckInputs(
            portfolio=self.portfolio(account, quote_symbol),
            prices=price_snapshot(prices, self.position, now),
            # Built, not validated: a TradingState, the clock and the stage's own approval
            # times are the field types already (validating the times was a fifth of this).
            state=CheckState.model_construct(
                trading_state=trading_state, now=now, recent_order_times=recent_order_times
            ),
        )

    def portfolio(self, account: str, quote_symbol: str) -> Portfolio:
        """The book as a `Portfolio`, built again only when a fill has moved it: the gate runs
        on every intent, and validating the positions was most of its inputs' cost. What it
        is built from is compared by identity (fills replace the Decimals they change). The
        pre-trade stage asks as it folds each fill, so the next quote's check finds it built."""
        sources = (account, quote_symbol, self.starting_equity, self.cash,
                   *[q for k, h in self.holdings.items() for q in (k, h, h.quantity)])  # fmt: skip
        cached = self._portfolio
        if (
            cached is not None
            and cached[0][:2] == sources[:2]
            and len(cached[0]) == len(sources)
            and all(map(is_, cached[0][2:], sources[2:]))
        ):
            return cached[1]
        # `net_position` per symbol in one pass: the same additions, in the same order
        net: dict[str, Decimal] = {}
        for (_, s), h in self.holdings.items():
            net[s] = net.get(s, ZERO) + h.quantity
        positions = [book_position(s, q) for s in sorted(net) if (q := net[s]) != 0]
        cash = DECIMAL.add(self.starting_equity, self.cash).quantize(_QTY_STEP, ROUND_FLOOR)
        if cash:
            positions.append(book_position(quote_symbol, cash))
        portfolio = book_portfolio(account, tuple(positions))
        self._portfolio = (sources, portfolio)
        return portfolio


_Count = Annotated[int, Field(ge=0)]
_Row = Strict(False)  # a JSON array is a row (strict mode would want a tuple); cells stay strict


class _BookState(StateModel):
    """The schema of `PaperBook.to_json()`."""

    starting_equity: DecimalText
    position: _Count
    cash: DecimalText
    holdings: list[Annotated[tuple[str, str, DecimalText, DecimalText], _Row]]
    marks: list[Annotated[tuple[str, DecimalText, int, _Count], _Row]]
    strategies: list[Annotated[tuple[str, DecimalText, _Count, _Count, _Count], _Row]]


@dataclass(frozen=True, slots=True)
class PaperBookProjection:
    """The paper book as a journal `Projection` (`engine/journal/projection.py`): for
    `zkrisk status` and snapshots. Stages that fold every record keep their own `PaperBook` and
    call its in-place `apply`; this adapter copies, so `apply` never mutates its input."""

    starting_equity: Decimal
    name: str = "paper_book/v1"

    def initial(self) -> PaperBook:
        return PaperBook(starting_equity=self.starting_equity)

    def apply(self, state: PaperBook, record: Recorded) -> PaperBook:
        if record.position <= state.position:
            return state
        after = state.copy()
        after.apply(record)
        return after

    def to_bytes(self, state: PaperBook) -> bytes:
        return state.to_bytes()

    def from_bytes(self, data: bytes) -> PaperBook:
        return PaperBook.from_bytes(data)
