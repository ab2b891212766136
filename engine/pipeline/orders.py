"""Stage 4's core: the order state machine, the orders projection and order send's decisions.

The state machine is a table, `TRANSITIONS`: (status, trigger) -> next status, shaped after
NautilusTrader's `_ORDER_STATE_TABLE` (nautilus_trader/model/orders/base.pyx, whose
`OrderStatus` has INITIALIZED, DENIED, SUBMITTED, ACCEPTED, REJECTED, PENDING_CANCEL, CANCELED,
EXPIRED, PARTIALLY_FILLED, FILLED, ...; it allows `(CANCELED, FILLED)` and
`(CANCELED, PARTIALLY_FILLED)` as "real world possibility": a fill may cross a cancel). Where
this table differs from Nautilus's, on purpose:

- a late fill after CANCELED or EXPIRED (our timeout) is applied, and a partial one leaves the
  order in its final status (Nautilus reopens it as PARTIALLY_FILLED): it no longer works at
  the venue, and the timeout path must not start querying it again; a fill that completes the
  quantity makes it FILLED;
- a partial fill while a cancel is pending keeps PENDING_CANCEL (the cancel is still pending);
- an ack that arrives after a fill, a cancel or a timeout is absorbed (acks and fills travel
  on different channels, so a fill can overtake its ack);
- a retried send and a replaced chain transaction keep the status (`RETRY`, `REPLACE`);
- no EMULATED, RELEASED, TRIGGERED or PENDING_UPDATE: nothing here emulates or amends orders.

`Orders` folds the journal's order events (stream 'orders'), fills (`OrderFilled`, stream
'fills') and venue health (`VenueHealth`, stream 'venue') into one `Order` per client order id;
a record the table refuses changes no status and is kept in `refused`, since the journal is a
record of facts and a fold must not stop on one. Decisions (`drafts_for_verdict`,
`drafts_for_venue_report`, `what_now`, `drafts_for_status_answer`, `after_send_failure`,
`VenueRouting`) are pure: they read
the state and return drafts, and the order-send task appends them and folds what it appended.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, Strict

from ..journal.events import (
    Draft,
    IntentEmitted,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRequested,
    OrderFilled,
    OrderRejected,
    OrderReplaced,
    OrderRetried,
    OrderSpec,
    OrderSubmitted,
    OrderTimedOut,
    Recorded,
    VenueHealth,
    VerdictIssued,
)
from .strategies.base import DECIMAL, DecimalText, StateModel
from .venues.base import (
    Ack,
    Canceled,
    OrderReport,
    Reject,
    Replaced,
    VenueError,
    VenueReport,
    VenueStatus,
)

ZERO = Decimal(0)
_NS = 1_000_000_000


class OrderStatus(StrEnum):
    INITIALIZED = "INITIALIZED"
    """Built, not yet sent (never journaled: an order enters the journal as SUBMITTED)."""
    DENIED = "DENIED"
    """Refused before it was sent (the pre-trade gate's REJECT; kept for the table's shape)."""
    SUBMITTED = "SUBMITTED"
    """`OrderSubmitted` written (write-ahead) and sent; no ack yet."""
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    PENDING_CANCEL = "PENDING_CANCEL"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    """Timed out here after the bounded status queries (`OrderTimedOut`), or by the venue."""
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"


class Trigger(StrEnum):
    """What moves an order: one per journal event, and a fill split by whether it completes."""

    DENY = "DENY"
    SUBMIT = "SUBMIT"
    ACCEPT = "ACCEPT"
    REJECT = "REJECT"
    RETRY = "RETRY"
    REPLACE = "REPLACE"
    CANCEL_REQUEST = "CANCEL_REQUEST"
    CANCEL = "CANCEL"
    TIME_OUT = "TIME_OUT"
    FILL_PARTIAL = "FILL_PARTIAL"
    FILL_COMPLETE = "FILL_COMPLETE"


S, T = OrderStatus, Trigger
TRANSITIONS: dict[tuple[OrderStatus, Trigger], OrderStatus] = {
    (S.INITIALIZED, T.DENY): S.DENIED,
    (S.INITIALIZED, T.SUBMIT): S.SUBMITTED,
    (S.SUBMITTED, T.ACCEPT): S.ACCEPTED,
    (S.SUBMITTED, T.REJECT): S.REJECTED,
    (S.SUBMITTED, T.RETRY): S.SUBMITTED,
    (S.SUBMITTED, T.REPLACE): S.SUBMITTED,
    (S.SUBMITTED, T.CANCEL_REQUEST): S.PENDING_CANCEL,
    (S.SUBMITTED, T.CANCEL): S.CANCELED,  # IOC / FOK: canceled without an ack
    (S.SUBMITTED, T.TIME_OUT): S.EXPIRED,
    (S.SUBMITTED, T.FILL_PARTIAL): S.PARTIALLY_FILLED,
    (S.SUBMITTED, T.FILL_COMPLETE): S.FILLED,
    (S.ACCEPTED, T.REJECT): S.REJECTED,  # a broadcast transaction that reverted
    (S.ACCEPTED, T.REPLACE): S.ACCEPTED,
    (S.ACCEPTED, T.CANCEL_REQUEST): S.PENDING_CANCEL,
    (S.ACCEPTED, T.CANCEL): S.CANCELED,
    (S.ACCEPTED, T.TIME_OUT): S.EXPIRED,
    (S.ACCEPTED, T.FILL_PARTIAL): S.PARTIALLY_FILLED,
    (S.ACCEPTED, T.FILL_COMPLETE): S.FILLED,
    (S.PARTIALLY_FILLED, T.ACCEPT): S.PARTIALLY_FILLED,  # the fill overtook its ack
    (S.PARTIALLY_FILLED, T.CANCEL_REQUEST): S.PENDING_CANCEL,
    (S.PARTIALLY_FILLED, T.CANCEL): S.CANCELED,
    (S.PARTIALLY_FILLED, T.TIME_OUT): S.EXPIRED,
    (S.PARTIALLY_FILLED, T.FILL_PARTIAL): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, T.FILL_COMPLETE): S.FILLED,
    (S.PENDING_CANCEL, T.ACCEPT): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, T.REJECT): S.REJECTED,
    (S.PENDING_CANCEL, T.CANCEL_REQUEST): S.PENDING_CANCEL,  # asked again
    (S.PENDING_CANCEL, T.CANCEL): S.CANCELED,
    (S.PENDING_CANCEL, T.TIME_OUT): S.EXPIRED,
    (S.PENDING_CANCEL, T.FILL_PARTIAL): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, T.FILL_COMPLETE): S.FILLED,
    (S.FILLED, T.ACCEPT): S.FILLED,  # the fills overtook the ack
    (S.CANCELED, T.ACCEPT): S.CANCELED,
    (S.CANCELED, T.FILL_PARTIAL): S.CANCELED,  # late fill: applied, the order stays final
    (S.CANCELED, T.FILL_COMPLETE): S.FILLED,  # late fill that completes it
    (S.EXPIRED, T.ACCEPT): S.EXPIRED,  # late ack after the timeout
    (S.EXPIRED, T.CANCEL): S.EXPIRED,  # a cancel sent after the timeout, confirmed
    (S.EXPIRED, T.FILL_PARTIAL): S.EXPIRED,  # late fill after the timeout: applied
    (S.EXPIRED, T.FILL_COMPLETE): S.FILLED,
}
del S, T

FINAL = frozenset({OrderStatus.DENIED, OrderStatus.REJECTED, OrderStatus.CANCELED,
                   OrderStatus.EXPIRED, OrderStatus.FILLED})  # fmt: skip
"""No answer is awaited from the venue (a late fill may still come and is applied)."""
AWAITING = frozenset({OrderStatus.SUBMITTED, OrderStatus.PENDING_CANCEL})
"""Waiting on the venue's answer: the timeout path queries these, then times them out."""
WORKING = frozenset({OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED})
"""Working at the venue: checked (never timed out) when no news came for `fill_check_s`, since
a lost fill or order update would otherwise leave them working forever."""


class InvalidTransition(ValueError):
    """The table has no move for this (status, trigger)."""

    def __init__(self, status: OrderStatus, trigger: Trigger) -> None:
        allowed = sorted(t.value for (s, t) in TRANSITIONS if s is status)
        super().__init__(
            f"an order in {status.value} cannot take {trigger.value}; from {status.value} the "
            f"table allows {', '.join(allowed) or 'nothing (the status is final)'}"
        )
        self.status, self.trigger = status, trigger


def transition(status: OrderStatus, trigger: Trigger) -> OrderStatus:
    """The status after `trigger`; `InvalidTransition` (saying what is allowed) if none."""
    after = TRANSITIONS.get((status, trigger))
    if after is None:
        raise InvalidTransition(status, trigger)
    return after


# --- the projection ------------------------------------------------------------------------


@dataclass(slots=True)
class Order:
    """One order as the journal has it."""

    spec: OrderSpec
    status: OrderStatus = OrderStatus.SUBMITTED
    filled: Decimal = ZERO
    notional: Decimal = ZERO
    """Σ quantity · price over the fills, USD (the average price is notional / filled)."""
    venue_order_id: str = ""
    attempts: int = 1
    """Sends made: 1 at submit, +1 per `OrderRetried`."""
    queries: int = 0
    """Status queries made, as `OrderTimedOut` recorded them (live counts stay in the task)."""
    replacements: int = 0
    submitted_ns: int = 0
    last_activity_ns: int = 0
    """Event time of the order's latest record (the timeout clock starts here)."""
    reason: str = ""
    """Why it was rejected, canceled or timed out."""
    fill_keys: set[str] = field(default_factory=set)
    """The journal keys of the fills applied (dedupe: see fills.apply_fill)."""
    late_fills: int = 0
    """Fills applied after the order went final (canceled or timed out)."""

    @property
    def remaining(self) -> Decimal:
        return self.spec.quantity - self.filled

    @property
    def average_price(self) -> Decimal:
        """Quantity-weighted average fill price (0 before the first fill)."""
        return DECIMAL.divide(self.notional, self.filled) if self.filled else ZERO


@dataclass(frozen=True, slots=True)
class Refusal:
    """A journal record the table did not allow (kept, never raised: see the module doc)."""

    position: int
    client_order_id: str
    status: str
    """The order's status then ('' for an order the projection never saw submitted)."""
    trigger: str


_ORDER_EVENTS = (OrderSubmitted, OrderAccepted, OrderRejected, OrderCancelRequested,
                 OrderCanceled, OrderRetried, OrderTimedOut, OrderReplaced, OrderFilled)  # fmt: skip
_TRIGGERS: dict[type, Trigger] = {
    OrderSubmitted: Trigger.SUBMIT,
    OrderAccepted: Trigger.ACCEPT,
    OrderRejected: Trigger.REJECT,
    OrderCancelRequested: Trigger.CANCEL_REQUEST,
    OrderCanceled: Trigger.CANCEL,
    OrderRetried: Trigger.RETRY,
    OrderTimedOut: Trigger.TIME_OUT,
    OrderReplaced: Trigger.REPLACE,
}


@dataclass(slots=True)
class Orders:
    """Every order by client order id, the fills applied, and each venue's routing state."""

    position: int = 0
    orders: dict[str, Order] = field(default_factory=dict)
    fill_index: dict[str, str] = field(default_factory=dict)
    """fill key -> client order id, for every fill applied (derived: not in the snapshot)."""
    venue_up: dict[str, bool] = field(default_factory=dict)
    venue_transitions: dict[str, int] = field(default_factory=dict)
    """VenueHealth records per venue (numbers the next one's key)."""
    refused: list[Refusal] = field(default_factory=list)
    _rows: dict[str, tuple[tuple[Any, ...], str]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """client order id -> (what its snapshot row was made of, the row's JSON): `to_bytes`
    serialises only the orders that changed since (most are final and never change)."""
    _open: dict[str, Order] = field(default_factory=dict, init=False, repr=False, compare=False)
    """The orders not final (`open_orders`: order send's timer asks for them every tick)."""

    # -- projection -----------------------------------------------------------------------

    def apply(self, recorded: Recorded) -> None:
        """Fold one journal record in (records at or before `position` are ignored)."""
        if recorded.position <= self.position:
            return
        self.position = recorded.position
        event = recorded.event
        if isinstance(event, _ORDER_EVENTS):
            if isinstance(event, OrderFilled):
                self._fill(event, recorded)
            else:
                self._order_event(event, recorded)
            coid = event.order.client_order_id if isinstance(event, OrderSubmitted) else (
                event.client_order_id)  # fmt: skip
            order = self.orders.get(coid)
            if order is not None:
                self._track(coid, order)
        elif isinstance(event, VenueHealth):
            self.venue_up[event.venue] = event.up
            self.venue_transitions[event.venue] = self.venue_transitions.get(event.venue, 0) + 1

    def _track(self, coid: str, order: Order) -> None:
        if order.status in FINAL:
            self._open.pop(coid, None)
            # Its snapshot row now, once: a snapshot of many orders then only joins rows.
            self._row_text(order)
        else:
            self._open[coid] = order

    def _refuse(self, recorded: Recorded, coid: str, order: Order | None, trigger: Trigger) -> None:
        status = "" if order is None else order.status.value
        self.refused.append(Refusal(recorded.position, coid, status, trigger.value))

    def _order_event(self, event: Any, recorded: Recorded) -> None:
        trigger = _TRIGGERS[type(event)]
        if isinstance(event, OrderSubmitted):
            coid = event.order.client_order_id
            if coid in self.orders:
                self._refuse(recorded, coid, self.orders[coid], trigger)
                return
            t = recorded.event_time_ns
            self.orders[coid] = Order(event.order, submitted_ns=t, last_activity_ns=t)
            return
        coid = event.client_order_id
        order = self.orders.get(coid)
        after = None if order is None else TRANSITIONS.get((order.status, trigger))
        if order is None or after is None:
            self._refuse(recorded, coid, order, trigger)
            return
        order.status = after
        order.last_activity_ns = recorded.event_time_ns
        if isinstance(event, OrderAccepted):
            order.venue_order_id = order.venue_order_id or event.venue_order_id
        elif isinstance(event, OrderRetried):
            order.attempts = event.attempt + 1
        elif isinstance(event, OrderReplaced):
            order.venue_order_id = event.venue_order_id
            order.replacements += 1
        elif isinstance(event, OrderTimedOut):
            order.queries = event.queries
            order.reason = "TIMED_OUT"
        elif isinstance(event, OrderRejected | OrderCanceled | OrderCancelRequested):
            order.reason = event.reason

    def _fill(self, event: OrderFilled, recorded: Recorded) -> None:
        order = self.orders.get(event.client_order_id)
        if order is None:  # apply_fill quarantines these: only a foreign writer gets here
            self._refuse(recorded, event.client_order_id, None, Trigger.FILL_PARTIAL)
            return
        filled = order.filled + event.quantity
        trigger = Trigger.FILL_COMPLETE if filled >= order.spec.quantity else Trigger.FILL_PARTIAL
        after = TRANSITIONS.get((order.status, trigger))
        if after is None:
            self._refuse(recorded, event.client_order_id, order, trigger)
        else:
            order.late_fills += order.status in FINAL
            order.status = after
        # The quantity counts even when the status refused it: the fill is money either way.
        order.notional = DECIMAL.add(order.notional, DECIMAL.multiply(event.quantity, event.price))
        order.filled = filled
        order.last_activity_ns = recorded.event_time_ns
        order.venue_order_id = order.venue_order_id or event.venue_order_id
        order.fill_keys.add(recorded.key)
        self.fill_index[recorded.key] = event.client_order_id

    # -- readings -------------------------------------------------------------------------

    def get(self, client_order_id: str) -> Order | None:
        return self.orders.get(client_order_id)

    def open_orders(self) -> list[Order]:
        """Orders not final, in client order id order."""
        return [o for _, o in sorted(self._open.items())]

    def working_symbols(self, strategy_prefix: str = "exit:") -> set[str]:
        """Symbols with an open order from strategies whose id starts with the prefix (the
        exits already under way: `fills.exits` skips them)."""
        return {o.spec.symbol for o in self.orders.values()
                if o.status not in FINAL and o.spec.strategy_id.startswith(strategy_prefix)}  # fmt: skip

    def venue_is_up(self, venue: str) -> bool:
        return self.venue_up.get(venue, True)

    # -- snapshots ------------------------------------------------------------------------

    def to_json(self) -> Any:
        return {
            "position": self.position,
            "orders": [_order_row(o) for _, o in sorted(self.orders.items())],
            **self._rest_json(),
        }

    def _rest_json(self) -> dict[str, Any]:
        return {
            "venues": [
                [v, up, self.venue_transitions.get(v, 0)] for v, up in sorted(self.venue_up.items())
            ],
            "refused": [[r.position, r.client_order_id, r.status, r.trigger] for r in self.refused],
        }

    def to_bytes(self) -> bytes:
        """`to_json` as compact JSON with sorted keys, the same bytes; built from each order's
        cached row, so a snapshot of thousands of final orders does not stall the fold."""
        rows = ",".join(self._row_text(o) for _, o in sorted(self.orders.items()))
        # Sorted keys: "orders" comes first, then what `_rest_json` and the position hold.
        rest = json.dumps({"position": self.position, **self._rest_json()}, separators=_COMPACT,
                          sort_keys=True)  # fmt: skip
        return f'{{"orders":[{rows}],{rest[1:]}'.encode()

    def _row_text(self, o: Order) -> str:
        # Every field the row holds (the fills by count: fill_keys only grow), spec by identity.
        made_of = (o.spec, o.status, o.filled, o.notional, o.venue_order_id, o.attempts,
                   o.queries, o.replacements, o.submitted_ns, o.last_activity_ns, o.reason,
                   len(o.fill_keys), o.late_fills)  # fmt: skip
        cached = self._rows.get(o.spec.client_order_id)
        if cached is not None and cached[0] == made_of:
            return cached[1]
        text = json.dumps(_order_row(o), separators=_COMPACT, sort_keys=True)
        self._rows[o.spec.client_order_id] = (made_of, text)
        return text

    @classmethod
    def from_bytes(cls, data: bytes) -> Orders:
        return cls.from_json(json.loads(data))

    @classmethod
    def from_json(cls, state: Any) -> Orders:
        """Checked field by field (ValueError when it does not fit): a snapshot is read data."""
        s = _OrdersState.model_validate(state)
        out = cls(position=s.position)
        for spec, status, filled, cost, void, att, q, rep, sub, last, why, keys, late in s.orders:
            order = Order(OrderSpec.model_validate(spec), OrderStatus(status), filled, cost,
                          void, att, q, rep, sub, last, why, set(keys), late)  # fmt: skip
            out.orders[order.spec.client_order_id] = order
            out.fill_index.update((k, order.spec.client_order_id) for k in keys)
            if order.status not in FINAL:
                out._open[order.spec.client_order_id] = order
        for venue, up, transitions in s.venues:
            out.venue_up[venue], out.venue_transitions[venue] = up, transitions
        out.refused = [Refusal(*r) for r in s.refused]
        return out

    def copy(self) -> Orders:
        return Orders.from_json(self.to_json())


_COMPACT = (",", ":")


def _order_row(o: Order) -> list[Any]:
    """One order's row of the snapshot (`_OrderRow`)."""
    return [o.spec.model_dump(mode="json"), o.status.value, str(o.filled), str(o.notional),
            o.venue_order_id, o.attempts, o.queries, o.replacements, o.submitted_ns,
            o.last_activity_ns, o.reason, sorted(o.fill_keys), o.late_fills]  # fmt: skip


_Count = Annotated[int, Field(ge=0)]
_Row = Strict(False)  # a JSON array is a row (strict mode would want a tuple); cells stay strict
_OrderRow = tuple[dict[str, Any], str, DecimalText, DecimalText, str, _Count, _Count, _Count,
                  _Count, _Count, str, list[str], _Count]  # fmt: skip


class _OrdersState(StateModel):
    """The schema of `Orders.to_json()`."""

    position: _Count
    orders: list[Annotated[_OrderRow, _Row]]
    venues: list[Annotated[tuple[str, bool, _Count], _Row]]
    refused: list[Annotated[tuple[_Count, str, str, str], _Row]]


@dataclass(frozen=True, slots=True)
class OrdersProjection:
    """`Orders` as a journal `Projection` (for snapshots and `check_projection`); the order-send
    task keeps its own `Orders` and calls the in-place `apply`."""

    name: str = "orders/v1"

    def initial(self) -> Orders:
        return Orders()

    def apply(self, state: Orders, record: Recorded) -> Orders:
        if record.position <= state.position:
            return state
        after = state.copy()
        after.apply(record)
        return after

    def to_bytes(self, state: Orders) -> bytes:
        return state.to_bytes()

    def from_bytes(self, data: bytes) -> Orders:
        return Orders.from_bytes(data)


# --- order send's decisions ----------------------------------------------------------------


class OrderSendConfig(BaseModel):
    """Timeouts, retries and routing of order send."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ack_timeout_s: float = Field(default=5.0, gt=0)
    """Seconds after the send (or the last record of the order) before the first status query."""
    query_interval_s: float = Field(default=2.0, gt=0)
    """Seconds between status queries, and from the last query to the timeout."""
    fill_check_s: float = Field(default=30.0, gt=0)
    """Seconds a working order (ACCEPTED, PARTIALLY_FILLED) may go without news before its
    status is queried (and again each such interval): how a lost fill is found."""
    max_queries: int = Field(default=3, ge=0)
    """Status queries before an order still unanswered is timed out (EXPIRED)."""
    max_retries: int = Field(default=3, ge=0)
    """Resends after a retryable send failure before the order is given up (REJECTED)."""
    backoff_base_s: float = Field(default=0.5, gt=0)
    """The first retry's delay; each later one doubles it."""
    backoff_cap_s: float = Field(default=10.0, gt=0)
    """The longest retry delay."""
    failure_threshold: int = Field(default=3, ge=1)
    """Consecutive failed calls that take a venue out of routing."""
    probe_interval_s: float = Field(default=30.0, gt=0)
    """Seconds between health probes of a venue out of routing."""


def _ns(seconds: float) -> int:
    return round(seconds * _NS)


def backoff_ns(attempt: int, config: OrderSendConfig) -> int:
    """The delay before resend `attempt` (1-based): base · 2^(attempt-1), at most the cap."""
    return min(_ns(config.backoff_cap_s), _ns(config.backoff_base_s) << (attempt - 1))


def drafts_for_verdict(verdict: Recorded | Draft, intent: IntentEmitted, venue: str) -> list[Draft]:
    """The `OrderSubmitted` (write-ahead) for an approved verdict on `intent`, else none.

    Key 'order:<client order id>' (a verdict replayed after a crash gives the same key, which
    the journal dedupes), caused by the verdict's key. The trading-state rules (HALTED,
    REDUCING) are the gate's: a verdict that reached here approved already passed them."""
    event = verdict.event
    order = intent.intent
    if not isinstance(event, VerdictIssued) or not event.verdict.approved:
        return []
    if event.verdict.client_order_id != order.client_order_id:
        raise ValueError(f"verdict on {event.verdict.client_order_id!r} does not judge intent "
                         f"{order.client_order_id!r}: pass the intent the verdict names")  # fmt: skip
    spec = OrderSpec(client_order_id=order.client_order_id, strategy_id=order.strategy_id,
                     venue=venue, symbol=order.symbol, side=order.side, quantity=order.quantity,
                     limit_price=order.limit_price, max_slippage_bps=order.max_slippage_bps,
                     reference_price=intent.reference_price)  # fmt: skip
    return [Draft("orders", f"order:{spec.client_order_id}", OrderSubmitted(order=spec),
                  verdict.event_time_ns, verdict.recv_time_ns, verdict.key)]  # fmt: skip


def drafts_for_venue_report(
    report: VenueReport, venue: str, orders: Orders, *, now_ns: int
) -> list[Draft]:
    """Drafts for an ack, reject, cancel, replacement or status answer (fills go to
    `fills.apply_fill`). Reports the table does not allow, or about unknown orders, give none:
    a venue repeats itself, and reconciliation owns the disagreements."""
    coid = report.client_order_id
    order = orders.get(coid)
    if order is None:
        return []
    t = report.venue_time_ns if isinstance(report, Ack | Reject | Canceled | Replaced) else 0
    t = t or now_ns
    event: Any
    if isinstance(report, OrderReport):
        if report.status in (VenueStatus.OPEN, VenueStatus.PARTIALLY_FILLED):
            report = Ack(coid, report.venue_order_id)
        elif report.status in (VenueStatus.CANCELED, VenueStatus.EXPIRED):
            report = Canceled(coid, f"VENUE_{report.status.value}")
        elif report.status is VenueStatus.REJECTED:
            report = Reject(coid, "VENUE_REJECTED", "the venue's status answer says REJECTED")
        else:
            return []  # UNKNOWN: keep querying; FILLED: its fills come as fills
    if isinstance(report, Ack):
        trigger, key = Trigger.ACCEPT, f"ack:{coid}"
        event = OrderAccepted(client_order_id=coid, venue=venue,
                              venue_order_id=report.venue_order_id)  # fmt: skip
    elif isinstance(report, Reject):
        trigger, key = Trigger.REJECT, f"reject:{coid}"
        event = OrderRejected(client_order_id=coid, venue=venue, reason=report.reason,
                              detail=report.detail)  # fmt: skip
    elif isinstance(report, Canceled):
        trigger, key = Trigger.CANCEL, f"cancel:{coid}"
        event = OrderCanceled(client_order_id=coid, venue=venue, reason=report.reason)
    elif isinstance(report, Replaced):
        trigger, key = Trigger.REPLACE, f"replace:{coid}:{order.replacements + 1}"
        event = OrderReplaced(client_order_id=coid, venue=venue,
                              previous_venue_order_id=report.previous_venue_order_id,
                              venue_order_id=report.venue_order_id, detail=report.detail)  # fmt: skip
    else:
        return []
    if (order.status, trigger) not in TRANSITIONS:
        return []
    return [Draft("orders", key, event, t, now_ns, f"order:{coid}")]


class ActionKind(StrEnum):
    NOTHING = "NOTHING"
    """Nothing to do for this order (final, or working at the venue)."""
    WAIT = "WAIT"
    """Nothing yet: come back at `at_ns`."""
    QUERY = "QUERY"
    """Ask the venue for the order's status now (`Venue.query`), then count the query."""
    TIME_OUT = "TIME_OUT"
    """Append `draft` (OrderTimedOut): the order is final (EXPIRED)."""
    RETRY = "RETRY"
    """At `at_ns`, append `draft` (OrderRetried) and send the same order again."""
    GIVE_UP = "GIVE_UP"
    """Append `draft` (OrderRejected): the send failed for good."""


@dataclass(frozen=True, slots=True)
class Action:
    kind: ActionKind
    at_ns: int = 0
    draft: Draft | None = None


def what_now(order: Order, now_ns: int, config: OrderSendConfig, *, queries_made: int) -> Action:
    """The timeout path's next step for an order awaiting the venue's answer, or working.

    Awaiting (SUBMITTED, PENDING_CANCEL): query k (1-based) is due `ack_timeout_s +
    (k-1)·query_interval_s` after the order's last record; one interval after the last of
    `max_queries` it is timed out. `queries_made` is the task's own count since that record: a
    status query is a read, not a journal event, so a restart counts again from 0 (at most
    `max_queries` extra reads). Working (ACCEPTED, PARTIALLY_FILLED): query k is due
    `k·fill_check_s` after the last record, never a timeout (the order lives at the venue; the
    answer goes to `drafts_for_status_answer`). Final orders need nothing."""
    if order.status in WORKING:
        due = order.last_activity_ns + (queries_made + 1) * _ns(config.fill_check_s)
        return Action(ActionKind.WAIT, due) if now_ns < due else Action(ActionKind.QUERY, now_ns)
    if order.status not in AWAITING:
        return Action(ActionKind.NOTHING)
    due = (order.last_activity_ns + _ns(config.ack_timeout_s)
           + queries_made * _ns(config.query_interval_s))  # fmt: skip
    if now_ns < due:
        return Action(ActionKind.WAIT, due)
    if queries_made < config.max_queries:
        return Action(ActionKind.QUERY, now_ns)
    coid, venue = order.spec.client_order_id, order.spec.venue
    waited = (now_ns - order.last_activity_ns) / _NS
    event = OrderTimedOut(client_order_id=coid, venue=venue, queries=queries_made,
                          detail=f"no answer from {venue} {waited:.1f} s after the order's last "
                          f"record, after {queries_made} status queries")  # fmt: skip
    return Action(ActionKind.TIME_OUT, now_ns,
                  Draft("orders", f"timeout:{coid}", event, now_ns, now_ns, f"order:{coid}"))  # fmt: skip


@dataclass(frozen=True, slots=True)
class StatusAnswer:
    """What a status query's answer becomes."""

    drafts: list[Draft]
    missing: Decimal = ZERO
    """How much more the venue says is filled than the journal holds (> 0: fills were lost on
    the way: ask the venue to resend them, `ResendsFills`)."""


def drafts_for_status_answer(
    report: OrderReport, venue: str, orders: Orders, *, now_ns: int
) -> StatusAnswer:
    """A status query's answer (`Venue.query`): `drafts_for_venue_report`, unless the venue has
    filled more than the journal holds. Then no final status is journaled yet (a final order is
    never checked again, so its lost fill would never be asked for): an order still SUBMITTED
    is recorded as acknowledged (the venue has it: it must not be timed out), and `missing`
    says the fills are to be resent; the next check, after they land, journals the status."""
    order = orders.get(report.client_order_id)
    if order is None or report.status is VenueStatus.UNKNOWN:
        return StatusAnswer(drafts_for_venue_report(report, venue, orders, now_ns=now_ns))
    missing = report.filled - order.filled
    if missing <= 0:
        return StatusAnswer(drafts_for_venue_report(report, venue, orders, now_ns=now_ns))
    drafts: list[Draft] = []
    if order.status is OrderStatus.SUBMITTED:
        ack = Ack(report.client_order_id, report.venue_order_id)
        drafts = drafts_for_venue_report(ack, venue, orders, now_ns=now_ns)
    return StatusAnswer(drafts, missing)


_VENUE_DONE = frozenset({VenueStatus.FILLED, VenueStatus.CANCELED, VenueStatus.REJECTED,
                         VenueStatus.EXPIRED, VenueStatus.UNKNOWN})  # fmt: skip


def late_fill_settled(order: Order, report: OrderReport) -> bool:
    """For an order timed out here: may order send stop asking after it? Yes once the venue's
    answer is final (or it never saw the order) and the journal holds all it filled; until
    then a fill may still come (or was lost on the way: `drafts_for_status_answer`)."""
    return report.status in _VENUE_DONE and report.filled <= order.filled


def after_send_failure(
    order: Order, error: VenueError, now_ns: int, config: OrderSendConfig
) -> Action:
    """A send (or resend) of `order` raised: RETRY after the backoff while retries remain and
    the error is retryable, else GIVE_UP (OrderRejected 'SEND_FAILED' / 'RETRIES_EXHAUSTED')."""
    coid, venue = order.spec.client_order_id, order.spec.venue
    attempt = order.attempts  # the next OrderRetried's number: retries so far + 1
    if error.retryable and attempt <= config.max_retries:
        at = now_ns + backoff_ns(attempt, config)
        event = OrderRetried(client_order_id=coid, venue=venue, attempt=attempt,
                             reason=str(error) or type(error).__name__)  # fmt: skip
        draft = Draft("orders", f"retry:{coid}:{attempt}", event, at, at, f"order:{coid}")
        return Action(ActionKind.RETRY, at, draft)
    reason = "RETRIES_EXHAUSTED" if error.retryable else "SEND_FAILED"
    detail = (f"send {order.attempts} of {config.max_retries + 1} to {venue} failed: {error}"
              if error.retryable else f"the send to {venue} failed for good: {error}")  # fmt: skip
    rejected = OrderRejected(client_order_id=coid, venue=venue, reason=reason, detail=detail)
    draft = Draft("orders", f"reject:{coid}", rejected, now_ns, now_ns, f"order:{coid}")
    return Action(ActionKind.GIVE_UP, now_ns, draft)


# --- venue routing -------------------------------------------------------------------------


class HoldsOrders(Protocol):
    @property
    def orders(self) -> Orders: ...


@dataclass(slots=True)
class _Calls:
    failures: int = 0
    """Consecutive failed calls (reset by a success)."""
    last_probe_ns: int = 0
    down_since_ns: int = 0


@dataclass(slots=True)
class VenueRouting:
    """Which venues orders may go to.

    Up or down is journal state (`VenueHealth`, folded by `Orders`); the failure counts and
    probe times are this object's, in memory (a restart starts them afresh). Draft keys are
    'venue:<name>:<up|down>:<n>' with n the venue's VenueHealth count so far + 1: a draft
    repeated before its record is folded is a journal no-op."""

    config: OrderSendConfig
    holder: HoldsOrders
    """What holds the folded `Orders` (the pipeline), read on every call: a restore or a
    rewind replaces the object, and routing must judge by the journal's state, not by the
    one it was built beside."""
    calls: dict[str, _Calls] = field(default_factory=dict)

    @property
    def orders(self) -> Orders:
        return self.holder.orders

    def routable(self, venue: str) -> bool:
        return self.orders.venue_is_up(venue)

    def route(self, candidates: Sequence[str]) -> str | None:
        """The first routable venue among `candidates` (None: all are down)."""
        return next((v for v in candidates if self.routable(v)), None)

    def on_success(self, venue: str) -> None:
        self.calls.setdefault(venue, _Calls()).failures = 0

    def on_failure(self, venue: str, now_ns: int, reason: str) -> Draft | None:
        """Count a failed call; at the threshold, the VenueHealth(up=False) draft."""
        calls = self.calls.setdefault(venue, _Calls())
        calls.failures += 1
        if not self.routable(venue) or calls.failures < self.config.failure_threshold:
            return None
        calls.down_since_ns = calls.last_probe_ns = now_ns
        text = f"{calls.failures} consecutive failed calls, the last: {reason}"
        return self._health(venue, False, text, now_ns)

    def probe_due(self, venue: str, now_ns: int) -> bool:
        """A venue out of routing is probed (`Venue.healthy`) once per probe interval."""
        if self.routable(venue):
            return False
        calls = self.calls.setdefault(venue, _Calls())
        return now_ns >= calls.last_probe_ns + _ns(self.config.probe_interval_s)

    def on_probe(self, venue: str, healthy: bool, now_ns: int) -> Draft | None:
        """A probe's result: healthy puts the venue back (VenueHealth(up=True))."""
        calls = self.calls.setdefault(venue, _Calls())
        calls.last_probe_ns = now_ns
        if not healthy or self.routable(venue):
            return None
        calls.failures = 0
        return self._health(venue, True, "a health probe passed", now_ns)

    def _health(self, venue: str, up: bool, reason: str, now_ns: int) -> Draft:
        n = self.orders.venue_transitions.get(venue, 0) + 1
        event = VenueHealth(venue=venue, up=up, reason=reason)
        key = f"venue:{venue}:{'up' if up else 'down'}:{n}"
        return Draft("venue", key, event, now_ns, now_ns)
