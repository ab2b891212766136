"""The order state machine: every allowed transition, refusals with their reason, late fills,
the projection's snapshots, and a table-driven property over random event sequences."""

from __future__ import annotations

import json
from collections import deque

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zkrisk.engine.journal.events import Draft, IntentEmitted, VerdictIssued
from zkrisk.engine.pipeline.fills import FillOutcomeKind
from zkrisk.engine.pipeline.orders import (
    TRANSITIONS,
    InvalidTransition,
    Orders,
    OrderStatus,
    Trigger,
    drafts_for_venue_report,
    drafts_for_verdict,
    transition,
)
from zkrisk.engine.pipeline.venues.base import Ack, Canceled, OrderReport, Reject, VenueStatus
from zkrisk.engine.risk.models import OrderIntent, Side, Verdict, VerdictKind

from .orders_support import VENUE, Book, D
from .tape import T0, Tape

# How to bring a fresh order (SUBMITTED) into each status, through journal records.
ROUTES: dict[OrderStatus, list[Trigger | str]] = {
    OrderStatus.SUBMITTED: [],
    OrderStatus.ACCEPTED: [Trigger.ACCEPT],
    OrderStatus.PARTIALLY_FILLED: [Trigger.ACCEPT, "fill:1"],
    OrderStatus.PENDING_CANCEL: [Trigger.ACCEPT, Trigger.CANCEL_REQUEST],
    OrderStatus.FILLED: [Trigger.ACCEPT, "fill:2"],
    OrderStatus.CANCELED: [Trigger.ACCEPT, Trigger.CANCEL],
    OrderStatus.EXPIRED: [Trigger.TIME_OUT],
    OrderStatus.REJECTED: [Trigger.REJECT],
}


def book_in(status: OrderStatus) -> Book:
    book = Book()
    book.submit(quantity="2")
    for step in ROUTES[status]:
        if isinstance(step, Trigger):
            book.trigger(step)
        else:
            assert book.fill(quantity=step.split(":")[1]).kind is FillOutcomeKind.APPLIED
    order = book.orders.get("c-1")
    assert order is not None and order.status is status
    return book


def apply_trigger(book: Book, trigger: Trigger) -> None:
    if trigger is Trigger.FILL_PARTIAL:
        book.fill(quantity="0.5")
    elif trigger is Trigger.FILL_COMPLETE:
        order = book.orders.get("c-1")
        assert order is not None
        book.fill(quantity=str(order.remaining))
    else:
        book.trigger(trigger)


JOURNALED = [(s, t) for (s, t) in TRANSITIONS if s in ROUTES]


@pytest.mark.parametrize(("status", "trigger"), JOURNALED, ids=lambda v: str(v))
def test_every_allowed_transition_moves_the_projected_order_to_the_tables_status(
    status: OrderStatus, trigger: Trigger
) -> None:
    book = book_in(status)
    apply_trigger(book, trigger)
    order = book.orders.get("c-1")
    assert order is not None and order.status is TRANSITIONS[(status, trigger)]
    assert book.orders.refused == []


def test_the_pre_journal_transitions_are_in_the_table_and_the_function() -> None:
    assert transition(OrderStatus.INITIALIZED, Trigger.SUBMIT) is OrderStatus.SUBMITTED
    assert transition(OrderStatus.INITIALIZED, Trigger.DENY) is OrderStatus.DENIED


INVALID = [(s, t) for s in OrderStatus for t in Trigger if (s, t) not in TRANSITIONS]


@pytest.mark.parametrize(("status", "trigger"), INVALID, ids=lambda v: str(v))
def test_a_transition_the_table_lacks_is_refused_with_what_is_allowed(
    status: OrderStatus, trigger: Trigger
) -> None:
    with pytest.raises(InvalidTransition, match=f"in {status.value} cannot take {trigger.value}"):
        transition(status, trigger)


def test_the_refusal_names_the_allowed_triggers_or_says_the_status_is_final() -> None:
    with pytest.raises(
        InvalidTransition,
        match=r"allows ACCEPT, CANCEL, CANCEL_REQUEST, FILL_COMPLETE, FILL_PARTIAL, TIME_OUT$",
    ):
        transition(OrderStatus.PARTIALLY_FILLED, Trigger.SUBMIT)
    with pytest.raises(InvalidTransition, match=r"nothing \(the status is final\)"):
        transition(OrderStatus.REJECTED, Trigger.ACCEPT)


JOURNAL_INVALID = [(s, t) for (s, t) in INVALID if s in ROUTES and t not in
                   (Trigger.SUBMIT, Trigger.DENY, Trigger.FILL_PARTIAL, Trigger.FILL_COMPLETE)]  # fmt: skip


@pytest.mark.parametrize(("status", "trigger"), JOURNAL_INVALID, ids=lambda v: str(v))
def test_a_journal_record_the_table_refuses_leaves_the_status_and_is_kept_as_refused(
    status: OrderStatus, trigger: Trigger
) -> None:
    book = book_in(status)
    head = len(book.tape.records)
    record = book.trigger(trigger)
    order = book.orders.get("c-1")
    assert order is not None and order.status is status
    if record.position <= head:  # e.g. a second ack: its key is the first's, a journal no-op
        assert book.orders.refused == []
    else:
        assert [(r.position, r.status, r.trigger) for r in book.orders.refused] == [
            (record.position, status.value, trigger.value)
        ]


def test_an_event_for_an_order_never_submitted_is_refused() -> None:
    book = Book()
    book.trigger(Trigger.ACCEPT, coid="ghost")
    assert book.orders.get("ghost") is None
    assert [(r.client_order_id, r.status) for r in book.orders.refused] == [("ghost", "")]


def test_a_late_fill_after_a_cancel_is_applied_and_the_order_stays_canceled() -> None:
    book = book_in(OrderStatus.CANCELED)
    assert book.fill(quantity="0.5").kind is FillOutcomeKind.APPLIED
    order = book.orders.get("c-1")
    assert order is not None
    assert (order.status, order.filled, order.late_fills) == (OrderStatus.CANCELED, D("0.5"), 1)
    assert book.positions.quantity("WETH") == D("0.5")
    book.fill(quantity="1.5")  # the rest arrives too: the order is filled after all
    assert order.status is OrderStatus.FILLED and order.late_fills == 2


def test_a_late_fill_after_a_timeout_is_applied() -> None:
    book = book_in(OrderStatus.EXPIRED)
    assert book.fill(quantity="2").kind is FillOutcomeKind.APPLIED
    order = book.orders.get("c-1")
    assert order is not None and order.status is OrderStatus.FILLED
    assert book.positions.quantity("WETH") == D(2)


def test_a_fill_for_a_rejected_order_is_quarantined_not_applied() -> None:
    book = book_in(OrderStatus.REJECTED)
    outcome = book.fill(quantity="1")
    assert (outcome.kind, outcome.reason) == (FillOutcomeKind.QUARANTINED, "FILL_NOT_ALLOWED")
    assert book.positions.quantity("WETH") == 0


def test_the_average_fill_price_is_quantity_weighted() -> None:
    book = book_in(OrderStatus.ACCEPTED)
    book.fill(quantity="1", price="2000")
    book.fill(quantity="1", price="2010")
    order = book.orders.get("c-1")
    assert order is not None and order.average_price == D(2005) and order.filled == D(2)


# --- decisions on verdicts and venue reports -----------------------------------------------


def _intent(coid: str = "c-1") -> IntentEmitted:
    intent = OrderIntent(client_order_id=coid, symbol="WETH", side=Side.BUY, quantity=D(1),
                         limit_price=D(2010), counterparty=VENUE, strategy_id="mom")  # fmt: skip
    return IntentEmitted(strategy_id="mom", intent=intent, reference_price=D(2000))


def _verdict(kind: VerdictKind, coid: str = "c-1") -> Draft:
    verdict = Verdict(kind=kind, client_order_id=coid, policy_id="p/1")
    return Draft("pretrade", f"verdict:{coid}", VerdictIssued(verdict=verdict), T0, T0 + 5)


def test_an_approved_verdict_gives_the_write_ahead_order_keyed_by_its_client_order_id() -> None:
    record = Tape().record(_verdict(VerdictKind.APPROVE))
    [draft] = drafts_for_verdict(record, _intent(), VENUE)
    assert (draft.stream, draft.key, draft.causation_id) == ("orders", "order:c-1", "verdict:c-1")
    spec = draft.event.order  # type: ignore[union-attr]
    assert (spec.venue, spec.quantity, spec.limit_price, spec.reference_price) == (
        VENUE, D(1), D(2010), D(2000))  # fmt: skip


@pytest.mark.parametrize("kind", [VerdictKind.REJECT, VerdictKind.FLAG_FOR_REVIEW])
def test_a_verdict_that_is_not_an_approval_sends_nothing(kind: VerdictKind) -> None:
    assert drafts_for_verdict(Tape().record(_verdict(kind)), _intent(), VENUE) == []


def test_a_verdict_on_another_intent_is_an_error_saying_which() -> None:
    record = Tape().record(_verdict(VerdictKind.APPROVE, coid="c-2"))
    with pytest.raises(ValueError, match="verdict on 'c-2' does not judge intent 'c-1'"):
        drafts_for_verdict(record, _intent("c-1"), VENUE)


def test_acks_rejects_cancels_and_status_answers_become_their_order_events() -> None:
    book = Book()
    book.submit()
    now = T0 + 99
    [ack] = drafts_for_venue_report(Ack("c-1", "v-9"), VENUE, book.orders, now_ns=now)
    assert (ack.key, ack.event.type) == ("ack:c-1", "OrderAccepted")
    [rej] = drafts_for_venue_report(Reject("c-1", "INSUFFICIENT_BALANCE", "x"), VENUE,
                                    book.orders, now_ns=now)  # fmt: skip
    assert (rej.key, rej.event.type) == ("reject:c-1", "OrderRejected")
    [can] = drafts_for_venue_report(Canceled("c-1", "IOC"), VENUE, book.orders, now_ns=now)
    assert (can.key, can.event.type) == ("cancel:c-1", "OrderCanceled")
    open_ = OrderReport("c-1", "v-9", VenueStatus.OPEN)
    assert drafts_for_venue_report(open_, VENUE, book.orders, now_ns=now)[0].key == "ack:c-1"
    unknown = OrderReport("c-1", "", VenueStatus.UNKNOWN)
    assert drafts_for_venue_report(unknown, VENUE, book.orders, now_ns=now) == []


def test_a_report_the_table_does_not_allow_or_about_an_unknown_order_gives_nothing() -> None:
    book = book_in(OrderStatus.REJECTED)
    assert drafts_for_venue_report(Canceled("c-1"), VENUE, book.orders, now_ns=T0) == []
    assert drafts_for_venue_report(Ack("nope", "v"), VENUE, book.orders, now_ns=T0) == []


# --- snapshots -------------------------------------------------------------------------------


def test_the_orders_snapshot_round_trips_to_the_same_bytes_and_refuses_a_bad_one() -> None:
    book = book_in(OrderStatus.PARTIALLY_FILLED)
    book.trigger(Trigger.ACCEPT, coid="ghost")  # a refusal is state too
    data = book.orders.to_bytes()
    restored = Orders.from_bytes(data)
    assert restored.to_bytes() == data and restored.fill_index == book.orders.fill_index
    assert b'"1","2000"' in data  # the order's filled quantity and notional
    with pytest.raises(ValueError, match="a Decimal in a snapshot is a string"):
        Orders.from_bytes(data.replace(b'"1","2000"', b'1,"2000"'))


def test_the_orders_snapshot_after_a_late_fill_on_a_final_order_holds_the_fill() -> None:
    # A final order's row is kept from one snapshot to the next: a change must still show.
    book = book_in(OrderStatus.CANCELED)
    before = book.orders.to_bytes()
    assert book.fill(quantity="0.5").kind is FillOutcomeKind.APPLIED
    after = book.orders.to_bytes()
    assert after != before
    assert (
        after == json.dumps(book.orders.to_json(), separators=(",", ":"), sort_keys=True).encode()
    )
    restored = Orders.from_bytes(after).get("c-1")
    assert restored is not None and (restored.filled, restored.late_fills) == (D("0.5"), 1)


def test_open_orders_are_the_ones_not_final_also_after_a_snapshot_round_trip() -> None:
    book = Book()
    for coid in ("c-3", "c-1", "c-2"):
        book.submit(coid=coid)
    book.trigger(Trigger.ACCEPT, coid="c-1")
    book.trigger(Trigger.REJECT, coid="c-2")
    assert book.fill(coid="c-1", quantity="2").kind is FillOutcomeKind.APPLIED
    book.trigger(Trigger.ACCEPT, coid="c-3")
    assert [o.spec.client_order_id for o in book.orders.open_orders()] == ["c-3"]
    restored = Orders.from_bytes(book.orders.to_bytes())
    assert [o.spec.client_order_id for o in restored.open_orders()] == ["c-3"]


# --- the property ----------------------------------------------------------------------------


def reachable(start: OrderStatus) -> set[OrderStatus]:
    seen, todo = {start}, deque([start])
    while todo:
        status = todo.popleft()
        for (s, _), after in TRANSITIONS.items():
            if s is status and after not in seen:
                seen.add(after)
                todo.append(after)
    return seen


OPS = st.one_of(
    st.sampled_from([t for t in Trigger if t not in (Trigger.SUBMIT, Trigger.DENY,
                                                     Trigger.FILL_PARTIAL, Trigger.FILL_COMPLETE)]),
    st.decimals(min_value=D("0.1"), max_value=D(3), places=1),
)  # fmt: skip


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(OPS, max_size=25))
def test_any_sequence_of_events_leaves_a_reachable_status_and_never_overfills(
    ops: list[Trigger | object],
) -> None:
    book = Book()
    book.submit(quantity="2")
    for op in ops:
        if isinstance(op, Trigger):
            book.trigger(op)
        else:
            book.fill(quantity=str(op))
    order = book.orders.get("c-1")
    assert order is not None
    assert order.status in reachable(OrderStatus.SUBMITTED)
    assert 0 <= order.filled <= order.spec.quantity
    assert (order.filled == order.spec.quantity) == (order.status is OrderStatus.FILLED)
    assert book.positions.quantity("WETH") == order.filled
