"""The simulated exchange's matching engine: pure, in memory, deterministic given a seed.

Per symbol a limit order book with price-time priority. A market maker (the account `mm`)
quotes `levels` price levels each side of a mid, each of finite, seeded size, so an order from
the bot fills partially across levels, and a limit order away from the market rests until the
mid moves to it (`set_mid` / `step_walk` re-quote the maker, whose new quotes match resting
orders like any incoming order). Every order of every account goes through the same `_match`.

Accounts hold positions and cash in the quote asset (USDC), starting from `initial_balances`;
no balance check is made (a margin account: positions and cash may go negative). A taker pays
`taker_fee_bps` of the cost, a maker `maker_fee_bps`, in USDC rounded to 6 decimals.

Fill ids are one counter for the venue ("1", "2", ...: unique, increasing); each fill also has
its account's 1-based sequence (`seq`), so a client can ask for the fills after the last one it
holds contiguously. The client order id is idempotent per account: placing an id the account
already used returns the existing order (`duplicate`), whatever the second request says.

Market orders are immediate-or-cancel: `price`, if given, is a protection price (no fill worse
than it); what does not fill at once expires (status 'expired'). Statuses are ccxt's.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Literal

QUOTE = "USDC"
MM_ACCOUNT = "mm"
TICK = Decimal("0.01")
LOT = Decimal("0.0001")
FEE_STEP = Decimal("0.000001")
MAX_DECIMALS = 8
"""Most decimals an amount or a price may have."""

OrderSide = Literal["buy", "sell"]
OrderType = Literal["limit", "market"]


class OrderStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"


FINAL = frozenset({OrderStatus.CLOSED, OrderStatus.CANCELED, OrderStatus.REJECTED,
                   OrderStatus.EXPIRED})  # fmt: skip


class BookError(Exception):
    """A request the book refuses: `code` is stable ('BAD_SYMBOL', 'BAD_REQUEST',
    'ORDER_NOT_FOUND', 'ORDER_NOT_OPEN'), the message says what is wrong."""

    def __init__(self, code: str, message: str, order: VenueOrder | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.order = order


@dataclass(frozen=True)
class MakerConfig:
    levels: int = 5
    half_spread_bps: int = 5
    step_bps: int = 5
    """Distance between two levels of one side."""
    level_notional: Decimal = Decimal(20_000)
    """A level's size is this much USD at the mid, times a seeded factor in [0.5, 1.5]."""
    walk_bps: int = 10
    """Largest move of one `step_walk`, either way."""

    def __post_init__(self) -> None:
        if self.levels < 1 or self.half_spread_bps < 1 or self.step_bps < 1:
            raise ValueError("the maker needs levels, half_spread_bps and step_bps ≥ 1")
        if self.level_notional <= 0 or self.walk_bps < 0:
            raise ValueError("level_notional must be > 0 and walk_bps ≥ 0")


@dataclass
class VenueOrder:
    """One order as the venue holds it (mutable: fills and cancels change it)."""

    id: str
    account: str
    client_order_id: str
    symbol: str
    side: OrderSide
    type: OrderType
    price: Decimal | None
    amount: Decimal
    timestamp_ms: int
    priority: int
    filled: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)
    status: OrderStatus = OrderStatus.OPEN
    reason: str = ""
    """Why it was rejected or expired ('' otherwise)."""

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.filled

    @property
    def average(self) -> Decimal | None:
        return None if not self.filled else self.cost / self.filled


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """One account's side of a match."""

    id: str
    seq: int
    """The account's fill number (1, 2, ...)."""
    order_id: str
    client_order_id: str
    account: str
    symbol: str
    side: OrderSide
    price: Decimal
    amount: Decimal
    fee: Decimal
    taker_or_maker: Literal["taker", "maker"]
    timestamp_ms: int

    @property
    def cost(self) -> Decimal:
        return self.price * self.amount


@dataclass
class Outcome:
    """What one book operation changed: the order asked about (if any), every fill made, and
    every other order whose state changed (makers filled)."""

    order: VenueOrder | None = None
    duplicate: bool = False
    trades: list[TradeRecord] = field(default_factory=list)
    touched: list[VenueOrder] = field(default_factory=list)


class _Side:
    """One side of one symbol's book: price levels (FIFO queues) and their sorted prices."""

    def __init__(self, side: OrderSide) -> None:
        self.side = side
        self.prices: list[Decimal] = []  # ascending
        self.levels: dict[Decimal, deque[VenueOrder]] = {}

    def best(self) -> Decimal | None:
        if not self.prices:
            return None
        return self.prices[-1] if self.side == "buy" else self.prices[0]

    def add(self, order: VenueOrder) -> None:
        assert order.price is not None
        level = self.levels.get(order.price)
        if level is None:
            level = self.levels[order.price] = deque()
            bisect.insort(self.prices, order.price)
        level.append(order)

    def remove(self, order: VenueOrder) -> None:
        assert order.price is not None
        level = self.levels[order.price]
        level.remove(order)
        if not level:
            self._drop_level(order.price)

    def _drop_level(self, price: Decimal) -> None:
        del self.levels[price]
        self.prices.pop(bisect.bisect_left(self.prices, price))

    def pop_front_if_done(self, price: Decimal) -> None:
        level = self.levels[price]
        while level and level[0].remaining <= 0:
            level.popleft()
        if not level:
            self._drop_level(price)

    def remove_account(self, account: str) -> None:
        for price in list(self.prices):
            level = self.levels[price]
            kept = deque(o for o in level if o.account != account)
            if kept:
                self.levels[price] = kept
            else:
                self._drop_level(price)


def _crosses(taker: VenueOrder, maker_price: Decimal) -> bool:
    if taker.price is None:
        return True
    return maker_price <= taker.price if taker.side == "buy" else maker_price >= taker.price


def _decimals(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


class Book:
    """Every symbol's book, the accounts and the maker; see the module docstring."""

    def __init__(
        self,
        mids: Mapping[str, Decimal],
        *,
        seed: int = 7,
        maker: MakerConfig = MakerConfig(),
        taker_fee_bps: int = 5,
        maker_fee_bps: int = 1,
        initial_balances: Mapping[str, Decimal] | None = None,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        if not mids:
            raise ValueError("the book needs at least one symbol with a mid price")
        for symbol, mid in mids.items():
            if mid <= 0:
                raise ValueError(f"mid of {symbol} is {mid}: it must be > 0")
        if not 0 <= taker_fee_bps <= 10_000 or not 0 <= maker_fee_bps <= 10_000:
            raise ValueError("fees are bps within [0, 10000]")
        self.maker = maker
        self.taker_fee_bps, self.maker_fee_bps = taker_fee_bps, maker_fee_bps
        self.initial = dict(initial_balances or {})
        self._rng = random.Random(seed)
        self._clock = clock_ms or (lambda: 0)
        self.mids = {s: Decimal(m).quantize(TICK) for s, m in mids.items()}
        self._sides = {s: {"buy": _Side("buy"), "sell": _Side("sell")} for s in self.mids}
        self._order_ids = itertools.count(1)
        self._fill_ids = itertools.count(1)
        self._priority = itertools.count(1)
        self._orders: dict[str, VenueOrder] = {}
        self._by_client: dict[tuple[str, str], VenueOrder] = {}
        self._balances: dict[str, dict[str, Decimal]] = {}
        self._fills: dict[str, list[TradeRecord]] = {}
        for symbol in self.mids:
            self._quote(symbol, Outcome())

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self.mids)

    # --- orders --------------------------------------------------------------------------------

    def place(
        self,
        account: str,
        client_order_id: str,
        symbol: str,
        side: OrderSide,
        type_: OrderType,
        amount: Decimal,
        price: Decimal | None = None,
    ) -> Outcome:
        """Place an order (or return the account's existing one with that client order id)."""
        existing = self._existing(account, client_order_id)
        if existing is not None:
            return existing
        order = self._new(account, client_order_id, symbol, side, type_, amount, price)
        outcome = Outcome(order)
        self._match(order, outcome)
        if order.remaining > 0 and order.status is OrderStatus.OPEN:
            if order.type == "limit":
                self._sides[symbol][side].add(order)
            else:
                order.status = OrderStatus.EXPIRED
                order.reason = "market order: no more liquidity within its price"
        return outcome

    def reject(
        self,
        account: str,
        client_order_id: str,
        symbol: str,
        side: OrderSide,
        type_: OrderType,
        amount: Decimal,
        price: Decimal | None,
        reason: str,
    ) -> Outcome:
        """Record the order as rejected (an existing client order id keeps its order)."""
        existing = self._existing(account, client_order_id)
        if existing is not None:
            return existing
        order = self._new(account, client_order_id, symbol, side, type_, amount, price)
        order.status, order.reason = OrderStatus.REJECTED, reason
        return Outcome(order)

    def cancel(self, account: str, *, order_id: str = "", client_order_id: str = "") -> Outcome:
        order = self.find(account, order_id=order_id, client_order_id=client_order_id)
        if order is None:
            raise BookError("ORDER_NOT_FOUND", self._not_found(order_id, client_order_id))
        if order.status is not OrderStatus.OPEN:
            raise BookError("ORDER_NOT_OPEN", f"order {order.id} is {order.status}", order)
        self._sides[order.symbol][order.side].remove(order)
        order.status = OrderStatus.CANCELED
        return Outcome(order)

    def find(self, account: str, *, order_id: str = "", client_order_id: str = ""
             ) -> VenueOrder | None:  # fmt: skip
        if client_order_id:
            return self._by_client.get((account, client_order_id))
        order = self._orders.get(order_id)
        return order if order is not None and order.account == account else None

    def open_orders(self, account: str, symbol: str | None = None) -> list[VenueOrder]:
        return [o for o in self._orders.values() if o.account == account
                and o.status is OrderStatus.OPEN and symbol in (None, o.symbol)]  # fmt: skip

    def balances(self, account: str) -> dict[str, Decimal]:
        """Holdings per asset: every book symbol and the quote asset (0 where none)."""
        held = {QUOTE: Decimal(0), **dict.fromkeys(self.mids, Decimal(0)), **self.initial}
        for asset, amount in self._balances.get(account, {}).items():
            held[asset] = held.get(asset, Decimal(0)) + amount
        return held

    def fills(self, account: str, after_seq: int = 0) -> list[TradeRecord]:
        """The account's fills with a sequence above `after_seq`, oldest first."""
        return self._fills.get(account, [])[max(after_seq, 0) :]

    def accounts(self) -> list[str]:
        return sorted({o.account for o in self._orders.values()} | set(self._balances))

    # --- the maker -----------------------------------------------------------------------------

    def set_mid(self, symbol: str, mid: Decimal) -> Outcome:
        """Move the mid and re-quote the maker around it (its quotes may fill resting orders)."""
        self._check_symbol(symbol)
        if mid <= 0:
            raise BookError("BAD_REQUEST", f"mid of {symbol} is {mid}: it must be > 0")
        self.mids[symbol] = mid.quantize(TICK)
        outcome = Outcome()
        self._quote(symbol, outcome)
        return outcome

    def step_walk(self) -> Outcome:
        """One seeded random-walk step of every mid, each re-quoted."""
        outcome = Outcome()
        for symbol, mid in self.mids.items():
            move = Decimal(self._rng.randint(-self.maker.walk_bps, self.maker.walk_bps))
            self.mids[symbol] = max(TICK, (mid * (1 + move / 10_000)).quantize(TICK))
            self._quote(symbol, outcome)
        return outcome

    def _quote(self, symbol: str, outcome: Outcome) -> None:
        sides, mid, m = self._sides[symbol], self.mids[symbol], self.maker
        for book_side in sides.values():
            book_side.remove_account(MM_ACCOUNT)
        for i in range(m.levels):
            offset = Decimal(m.half_spread_bps + i * m.step_bps) / 10_000
            quotes: tuple[tuple[OrderSide, Decimal], ...] = (
                ("sell", mid * (1 + offset)), ("buy", mid * (1 - offset)))  # fmt: skip
            for side, price in quotes:
                size = m.level_notional / mid * Decimal(self._rng.randint(50, 150)) / 100
                order = VenueOrder(
                    id=f"mm-{next(self._order_ids)}", account=MM_ACCOUNT, client_order_id="",
                    symbol=symbol, side=side, type="limit",
                    price=max(TICK, price.quantize(TICK)),
                    amount=max(LOT, size.quantize(LOT)), timestamp_ms=self._clock(),
                    priority=next(self._priority),
                )  # fmt: skip
                self._match(order, outcome)
                if order.remaining > 0:
                    sides[order.side].add(order)

    # --- matching ------------------------------------------------------------------------------

    def _match(self, taker: VenueOrder, outcome: Outcome) -> None:
        book = self._sides[taker.symbol]["sell" if taker.side == "buy" else "buy"]
        while taker.remaining > 0:
            best = book.best()
            if best is None or not _crosses(taker, best):
                break
            maker = book.levels[best][0]
            quantity = min(taker.remaining, maker.remaining)
            self._fill(taker, quantity, best, "taker", outcome)
            self._fill(maker, quantity, best, "maker", outcome)
            if maker.account != MM_ACCOUNT and maker not in outcome.touched:
                outcome.touched.append(maker)
            book.pop_front_if_done(best)

    def _fill(self, order: VenueOrder, quantity: Decimal, price: Decimal,
              role: Literal["taker", "maker"], outcome: Outcome) -> None:  # fmt: skip
        cost = quantity * price
        bps = self.taker_fee_bps if role == "taker" else self.maker_fee_bps
        fee = (cost * bps / 10_000).quantize(FEE_STEP, rounding=ROUND_HALF_UP)
        order.filled += quantity
        order.cost += cost
        order.fee += fee
        if order.remaining <= 0:
            order.status = OrderStatus.CLOSED
        if order.account == MM_ACCOUNT:
            return  # the maker is the venue's counterparty: not an account anyone reconciles
        held = self._balances.setdefault(order.account, {})
        sign = 1 if order.side == "buy" else -1
        held[order.symbol] = held.get(order.symbol, Decimal(0)) + sign * quantity
        held[QUOTE] = held.get(QUOTE, Decimal(0)) - sign * cost - fee
        fills = self._fills.setdefault(order.account, [])
        record = TradeRecord(
            id=str(next(self._fill_ids)), seq=len(fills) + 1, order_id=order.id,
            client_order_id=order.client_order_id, account=order.account, symbol=order.symbol,
            side=order.side, price=price, amount=quantity, fee=fee, taker_or_maker=role,
            timestamp_ms=self._clock(),
        )  # fmt: skip
        fills.append(record)
        outcome.trades.append(record)

    # --- helpers -------------------------------------------------------------------------------

    def _existing(self, account: str, client_order_id: str) -> Outcome | None:
        order = self._by_client.get((account, client_order_id)) if client_order_id else None
        return None if order is None else Outcome(order, duplicate=True)

    def _new(self, account: str, client_order_id: str, symbol: str, side: OrderSide,
             type_: OrderType, amount: Decimal, price: Decimal | None) -> VenueOrder:  # fmt: skip
        self._check_symbol(symbol)
        check_order_fields(side, type_, amount, price)
        if account == MM_ACCOUNT:
            raise BookError("BAD_REQUEST", f"account {MM_ACCOUNT!r} is the venue's market maker")
        order = VenueOrder(
            id=str(next(self._order_ids)), account=account, client_order_id=client_order_id,
            symbol=symbol, side=side, type=type_, price=price, amount=amount,
            timestamp_ms=self._clock(), priority=next(self._priority),
        )  # fmt: skip
        self._orders[order.id] = order
        if client_order_id:
            self._by_client[(account, client_order_id)] = order
        return order

    def _check_symbol(self, symbol: str) -> None:
        if symbol not in self.mids:
            raise BookError("BAD_SYMBOL", f"unknown symbol {symbol!r}; the venue lists "
                            f"{', '.join(sorted(self.mids))}")  # fmt: skip

    @staticmethod
    def _not_found(order_id: str, client_order_id: str) -> str:
        what = f"client order id {client_order_id!r}" if client_order_id else f"id {order_id!r}"
        return f"no order with {what} for this account"


def check_order_fields(side: object, type_: object, amount: Decimal, price: Decimal | None
                       ) -> tuple[OrderSide, OrderType]:  # fmt: skip
    """The order's side and type, or BookError('BAD_REQUEST') naming the first field that is
    wrong."""
    if side != "buy" and side != "sell":
        raise BookError("BAD_REQUEST", f"side {side!r}: expected 'buy' or 'sell'")
    if type_ != "limit" and type_ != "market":
        raise BookError("BAD_REQUEST", f"type {type_!r}: expected 'limit' or 'market'")
    values: Iterable[tuple[str, Decimal | None]] = (("amount", amount), ("price", price))
    for name, value in values:
        if value is None:
            continue
        if not value.is_finite() or value <= 0:
            raise BookError("BAD_REQUEST", f"{name} {value}: it must be a finite number > 0")
        if _decimals(value) > MAX_DECIMALS:
            raise BookError("BAD_REQUEST", f"{name} {value}: at most {MAX_DECIMALS} decimals")
    if type_ == "limit" and price is None:
        raise BookError("BAD_REQUEST", "a limit order needs a price")
    return side, type_
