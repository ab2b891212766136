"""Builders for the order and fill tests: orders on a `Tape`, folded into `Orders` and
`Positions` the way the order-send and fills consumers fold what they append."""

from __future__ import annotations

from decimal import Decimal

from zkrisk.engine.journal.events import (
    Draft,
    Event,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRequested,
    OrderRejected,
    OrderReplaced,
    OrderRetried,
    OrderSpec,
    OrderSubmitted,
    OrderTimedOut,
    Recorded,
)
from zkrisk.engine.pipeline.fills import FillOutcome, Positions, apply_fill
from zkrisk.engine.pipeline.orders import Orders, Trigger
from zkrisk.engine.pipeline.venues.base import Fill
from zkrisk.engine.risk.models import Side

from .tape import NS, T0, Tape

D = Decimal
VENUE = "simex"


def spec(coid: str = "c-1", quantity: str = "2", side: str = "BUY", symbol: str = "WETH",
         strategy: str = "mom") -> OrderSpec:  # fmt: skip
    return OrderSpec(client_order_id=coid, strategy_id=strategy, venue=VENUE, symbol=symbol,
                     side=Side(side), quantity=D(quantity), limit_price=D(2100),
                     reference_price=D(2000))  # fmt: skip


def trigger_event(trigger: Trigger, coid: str, n: int = 1) -> tuple[str, Event]:
    """A journal key and event for one non-fill trigger on order `coid`."""
    v = VENUE
    match trigger:
        case Trigger.SUBMIT:
            return f"order:{coid}", OrderSubmitted(order=spec(coid))
        case Trigger.ACCEPT:
            return f"ack:{coid}", OrderAccepted(client_order_id=coid, venue=v,
                                                venue_order_id=f"v-{coid}")  # fmt: skip
        case Trigger.REJECT:
            return f"reject:{coid}", OrderRejected(client_order_id=coid, venue=v,
                                                   reason="VENUE_REJECTED", detail="no")  # fmt: skip
        case Trigger.CANCEL_REQUEST:
            return f"cancelreq:{coid}:{n}", OrderCancelRequested(client_order_id=coid, venue=v,
                                                                 reason="operator")  # fmt: skip
        case Trigger.CANCEL:
            return f"cancel:{coid}", OrderCanceled(client_order_id=coid, venue=v,
                                                   reason="operator")  # fmt: skip
        case Trigger.RETRY:
            return f"retry:{coid}:{n}", OrderRetried(client_order_id=coid, venue=v, attempt=n,
                                                     reason="timeout")  # fmt: skip
        case Trigger.TIME_OUT:
            return f"timeout:{coid}", OrderTimedOut(client_order_id=coid, venue=v, queries=3,
                                                    detail="no answer")  # fmt: skip
        case Trigger.REPLACE:
            return f"replace:{coid}:{n}", OrderReplaced(
                client_order_id=coid, venue=v, previous_venue_order_id="0xa",
                venue_order_id=f"0xb{n}", detail="fee bump")  # fmt: skip
    raise ValueError(f"{trigger} is a fill: use Book.fill")


class Book:
    """A tape with the two projections folded after every append (like the consumers)."""

    def __init__(self) -> None:
        self.tape = Tape()
        self.orders = Orders()
        self.positions = Positions()
        self.t = T0
        self.n = 0

    def add(self, draft: Draft) -> Recorded:
        recorded = self.tape.record(draft)
        self.orders.apply(recorded)
        self.positions.apply(recorded)
        return recorded

    def event(self, key: str, event: Event, stream: str = "orders") -> Recorded:
        self.t += NS
        return self.add(Draft(stream, key, event, self.t, self.t))

    def submit(self, coid: str = "c-1", quantity: str = "2", side: str = "BUY",
               symbol: str = "WETH") -> Recorded:  # fmt: skip
        return self.event(f"order:{coid}", OrderSubmitted(order=spec(coid, quantity, side, symbol)))

    def trigger(self, trigger: Trigger, coid: str = "c-1") -> Recorded:
        self.n += 1
        key, event = trigger_event(trigger, coid, self.n)
        return self.event(key, event)

    def fill(self, coid: str = "c-1", quantity: str = "1", price: str = "2000", *,
             fill_id: str | None = None, seq: int = 0, fee: str = "0", side: str = "BUY",
             symbol: str = "WETH", fee_currency: str = "USDC") -> FillOutcome:  # fmt: skip
        """A venue fill report through `apply_fill`; its draft (if any) appended and folded."""
        self.n += 1
        report = fill_report(coid, quantity, price, fill_id=f"t-{self.n}" if fill_id is None
                             else fill_id, seq=seq, fee=fee, side=side, symbol=symbol,
                             fee_currency=fee_currency)  # fmt: skip
        self.t += NS
        outcome = apply_fill(report, VENUE, self.orders, event_time_ns=self.t, recv_time_ns=self.t)
        if outcome.draft is not None:
            self.add(outcome.draft)
        return outcome

    def quote(self, bid: str, ask: str, symbol: str = "WETH") -> Recorded:
        self.t += NS
        recorded = self.tape.quote(bid, ask, t=self.t, symbol=symbol)
        self.orders.apply(recorded)
        self.positions.apply(recorded)
        return recorded


def fill_report(coid: str = "c-1", quantity: str = "1", price: str = "2000", *,
                fill_id: str = "t-1", seq: int = 0, fee: str = "0", side: str = "BUY",
                symbol: str = "WETH", fee_currency: str = "USDC") -> Fill:  # fmt: skip
    return Fill(client_order_id=coid, venue_order_id=f"v-{coid}", fill_id=fill_id,
                symbol=symbol, side=Side(side), quantity=D(quantity), price=D(price),
                fee=D(fee), fee_currency=fee_currency, fill_seq=seq)  # fmt: skip
