"""Order send's time-driven decisions: status queries then a timeout when no ack comes, bounded
retries with backoff, and venues taken out of routing and put back after a probe."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from zkrisk.engine.pipeline.fills import FillOutcomeKind
from zkrisk.engine.pipeline.orders import (
    ActionKind,
    Order,
    OrderSendConfig,
    OrderStatus,
    Trigger,
    VenueRouting,
    after_send_failure,
    backoff_ns,
    drafts_for_status_answer,
    late_fill_settled,
    what_now,
)
from zkrisk.engine.pipeline.venues.base import OrderReport, VenueError, VenueStatus
from zkrisk.engine.risk.models import Side

from .orders_support import VENUE, Book, D
from .tape import NS

CONFIG = OrderSendConfig(ack_timeout_s=5, query_interval_s=2, max_queries=3, max_retries=3,
                         backoff_base_s=0.5, backoff_cap_s=1.5, failure_threshold=3,
                         probe_interval_s=30)  # fmt: skip


def _order(book: Book) -> Order:
    order = book.orders.get("c-1")
    assert order is not None
    return order


def drive_timeout(book: Book) -> tuple[list[tuple[ActionKind, int]], int]:
    """Run the timeout path as the order-send task would (querying a venue that never answers)
    until it gives an answer other than WAIT/QUERY; returns the steps and the queries made."""
    order, queries, steps = _order(book), 0, []
    start = order.last_activity_ns
    now = start
    for _ in range(100):
        action = what_now(order, now, CONFIG, queries_made=queries)
        steps.append((action.kind, (now - start) // NS))
        if action.kind is ActionKind.WAIT:
            now = action.at_ns
        elif action.kind is ActionKind.QUERY:
            queries += 1  # the venue's answer: UNKNOWN, every time
        else:
            if action.draft is not None:
                book.add(action.draft)
            return steps, queries
    raise AssertionError(f"the timeout path never ended: {steps[-5:]}")


def test_an_order_whose_ack_never_comes_is_queried_then_timed_out_and_its_late_fill_lands() -> None:
    book = Book()
    book.submit(quantity="2")
    steps, _ = drive_timeout(book)
    assert steps == [(ActionKind.WAIT, 0), (ActionKind.QUERY, 5), (ActionKind.WAIT, 5),
                     (ActionKind.QUERY, 7), (ActionKind.WAIT, 7), (ActionKind.QUERY, 9),
                     (ActionKind.WAIT, 9), (ActionKind.TIME_OUT, 11)]  # fmt: skip
    order = _order(book)
    assert (order.status, order.queries, order.reason) == (OrderStatus.EXPIRED, 3, "TIMED_OUT")
    assert book.tape.by_key["timeout:c-1"].causation_id == "order:c-1"
    assert what_now(order, order.last_activity_ns + 100 * NS, CONFIG, queries_made=0).kind is (
        ActionKind.NOTHING)  # fmt: skip
    # The venue did take the order after all: its fill arrives late and still counts.
    assert book.fill(quantity="2", price="2001").kind is FillOutcomeKind.APPLIED
    assert (order.status, order.late_fills) == (OrderStatus.FILLED, 1)
    assert book.positions.quantity("WETH") == D(2)
    assert book.positions.average_price("WETH") == D(2001)


def test_the_timeout_needs_every_query_first() -> None:
    book = Book()
    book.submit()
    order = _order(book)
    late = order.last_activity_ns + 1000 * NS
    assert what_now(order, late, CONFIG, queries_made=2).kind is ActionKind.QUERY
    assert what_now(order, late, CONFIG, queries_made=3).kind is ActionKind.TIME_OUT


def test_an_acked_order_is_working_and_is_checked_but_never_timed_out() -> None:
    book = Book()
    book.submit()
    book.trigger(Trigger.ACCEPT)
    order = _order(book)
    start = order.last_activity_ns
    assert what_now(order, start + 29 * NS, CONFIG, queries_made=0).kind is ActionKind.WAIT
    assert what_now(order, start + 30 * NS, CONFIG, queries_made=0).kind is ActionKind.QUERY
    # Each answer without news pushes the next check one `fill_check_s` further; never a timeout.
    assert what_now(order, start + 30 * NS, CONFIG, queries_made=1).kind is ActionKind.WAIT
    action = what_now(order, start + 1000 * NS, CONFIG, queries_made=30)
    assert action.kind is ActionKind.QUERY


def _answer(status: VenueStatus, filled: str) -> OrderReport:
    return OrderReport("c-1", "v-c-1", status, "WETH", Side.BUY, D(2), D(filled))


def test_a_status_answer_with_more_filled_than_the_journal_asks_for_the_fills_and_holds_the_status(
) -> None:  # fmt: skip
    book = Book()
    book.submit()
    book.trigger(Trigger.ACCEPT)
    book.fill(quantity="1")
    # The venue filled 2 and then expired the rest... of nothing: the second fill was lost.
    answer = drafts_for_status_answer(_answer(VenueStatus.FILLED, "2"), VENUE, book.orders,
                                      now_ns=book.t)  # fmt: skip
    assert (answer.drafts, answer.missing) == ([], D(1))
    answer = drafts_for_status_answer(_answer(VenueStatus.EXPIRED, "2"), VENUE, book.orders,
                                      now_ns=book.t)  # fmt: skip
    assert (answer.drafts, answer.missing) == ([], D(1))  # not final before its fills are in
    assert _order(book).status is OrderStatus.PARTIALLY_FILLED
    book.fill(quantity="1")  # the resent fill
    assert _order(book).status is OrderStatus.FILLED


def test_a_status_answer_for_an_unacked_order_the_venue_filled_records_the_ack() -> None:
    book = Book()
    book.submit()
    answer = drafts_for_status_answer(_answer(VenueStatus.FILLED, "2"), VENUE, book.orders,
                                      now_ns=book.t)  # fmt: skip
    assert answer.missing == D(2)
    assert [d.key for d in answer.drafts] == ["ack:c-1"]
    book.add(answer.drafts[0])
    order = _order(book)
    assert order.status is OrderStatus.ACCEPTED  # working: checked, not timed out
    assert what_now(order, order.last_activity_ns + 1000 * NS, CONFIG, queries_made=9).kind is (
        ActionKind.QUERY)  # fmt: skip


def test_a_timed_out_order_is_watched_until_the_venue_is_final_and_its_fills_are_in() -> None:
    book = Book()
    book.submit()
    drive_timeout(book)
    order = _order(book)
    assert order.status is OrderStatus.EXPIRED
    assert not late_fill_settled(order, _answer(VenueStatus.OPEN, "0"))  # it works there after all
    assert not late_fill_settled(order, _answer(VenueStatus.FILLED, "2"))  # its fills are due
    book.fill(quantity="2")  # the late fill
    assert late_fill_settled(order, _answer(VenueStatus.FILLED, "2"))
    assert late_fill_settled(order, _answer(VenueStatus.UNKNOWN, "0"))  # it never got there


def test_a_status_answer_that_agrees_with_the_journal_journals_the_venues_status() -> None:
    book = Book()
    book.submit()
    book.trigger(Trigger.ACCEPT)
    book.fill(quantity="1")
    answer = drafts_for_status_answer(_answer(VenueStatus.EXPIRED, "1"), VENUE, book.orders,
                                      now_ns=book.t)  # fmt: skip
    assert answer.missing == 0 and [d.key for d in answer.drafts] == ["cancel:c-1"]
    book.add(answer.drafts[0])
    assert _order(book).status is OrderStatus.CANCELED
    unknown = drafts_for_status_answer(_answer(VenueStatus.UNKNOWN, "0"), VENUE, book.orders,
                                       now_ns=book.t)  # fmt: skip
    assert (unknown.drafts, unknown.missing) == ([], 0)


def test_a_cancel_that_is_never_confirmed_is_queried_and_timed_out_too() -> None:
    book = Book()
    book.submit()
    book.trigger(Trigger.ACCEPT)
    book.trigger(Trigger.CANCEL_REQUEST)
    steps, queries = drive_timeout(book)
    assert queries == 3 and steps[-1][0] is ActionKind.TIME_OUT
    assert _order(book).status is OrderStatus.EXPIRED


def test_zero_max_queries_times_out_at_the_ack_timeout() -> None:
    book = Book()
    book.submit()
    order = _order(book)
    config = CONFIG.model_copy(update={"max_queries": 0})
    assert what_now(order, order.last_activity_ns + 5 * NS, config, queries_made=0).kind is (
        ActionKind.TIME_OUT)  # fmt: skip


# --- retries -------------------------------------------------------------------------------


def test_retries_back_off_exponentially_up_to_the_cap_and_are_bounded() -> None:
    book = Book()
    book.submit()
    error = VenueError("connection reset", retryable=True)
    delays, now = [], book.t
    for _ in range(10):
        action = after_send_failure(_order(book), error, now, CONFIG)
        if action.kind is not ActionKind.RETRY:
            break
        assert action.draft is not None
        delays.append((action.at_ns - now) / NS)
        assert action.draft.key == f"retry:c-1:{len(delays)}"
        book.add(action.draft)  # the task writes it at at_ns, then sends again (which fails)
        now = action.at_ns
    assert delays == [0.5, 1.0, 1.5]  # base, 2·base, then the cap
    assert action.kind is ActionKind.GIVE_UP and action.draft is not None
    assert (action.draft.key, action.draft.event.reason) == (  # type: ignore[union-attr]
        "reject:c-1", "RETRIES_EXHAUSTED")  # fmt: skip
    book.add(action.draft)
    order = _order(book)
    assert (order.status, order.attempts) == (OrderStatus.REJECTED, 4)


def test_a_retry_restarts_the_ack_clock() -> None:
    book = Book()
    book.submit()
    action = after_send_failure(_order(book), VenueError("busy"), book.t, CONFIG)
    assert action.draft is not None
    book.add(action.draft)
    order = _order(book)
    assert order.last_activity_ns == action.at_ns and order.status is OrderStatus.SUBMITTED
    assert what_now(order, action.at_ns + 4 * NS, CONFIG, queries_made=0).kind is ActionKind.WAIT


def test_a_failure_that_is_not_retryable_gives_up_at_once() -> None:
    book = Book()
    book.submit()
    action = after_send_failure(_order(book), VenueError("bad symbol", retryable=False), book.t,
                                CONFIG)  # fmt: skip
    assert action.kind is ActionKind.GIVE_UP and action.draft is not None
    assert action.draft.event.reason == "SEND_FAILED"  # type: ignore[union-attr]


def test_backoff_is_base_times_two_to_the_attempt_then_capped() -> None:
    config = CONFIG.model_copy(update={"backoff_cap_s": 100})
    assert [backoff_ns(n, config) / NS for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]


def test_the_config_refuses_unknown_fields_and_non_positive_timeouts() -> None:
    with pytest.raises(ValidationError, match="extra"):
        OrderSendConfig(ack_timeout=5)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="greater than 0"):
        OrderSendConfig(query_interval_s=0)


# --- venue routing -------------------------------------------------------------------------


def test_a_venue_that_fails_repeatedly_leaves_routing_and_comes_back_after_a_probe() -> None:
    book = Book()
    routing = VenueRouting(CONFIG, book)
    t = book.t
    assert routing.on_failure(VENUE, t, "timeout") is None
    assert routing.on_failure(VENUE, t + 1, "timeout") is None
    down = routing.on_failure(VENUE, t + 2, "timeout")
    assert down is not None and down.key == f"venue:{VENUE}:down:1"
    assert down.event.up is False and "3 consecutive" in down.event.reason  # type: ignore[union-attr]
    book.add(down)
    assert not routing.routable(VENUE) and routing.route([VENUE, "uniswap"]) == "uniswap"
    assert routing.on_failure(VENUE, t + 3, "timeout") is None  # already out
    assert not routing.probe_due(VENUE, t + 2 + 29 * NS)
    assert routing.probe_due(VENUE, t + 2 + 30 * NS)
    assert routing.on_probe(VENUE, False, t + 2 + 30 * NS) is None  # still sick
    assert not routing.probe_due(VENUE, t + 2 + 59 * NS)
    up = routing.on_probe(VENUE, True, t + 2 + 60 * NS)
    assert up is not None and up.key == f"venue:{VENUE}:up:2" and up.event.up  # type: ignore[union-attr]
    book.add(up)
    assert routing.routable(VENUE) and routing.route([VENUE, "uniswap"]) == VENUE
    # The counts start afresh: one more failure does not take it out again.
    assert routing.on_failure(VENUE, t + 61 * NS, "timeout") is None


def test_a_success_between_failures_resets_the_count() -> None:
    routing = VenueRouting(CONFIG, Book())
    routing.on_failure(VENUE, 1, "x")
    routing.on_failure(VENUE, 2, "x")
    routing.on_success(VENUE)
    assert routing.on_failure(VENUE, 3, "x") is None
    assert routing.on_failure(VENUE, 4, "x") is None
    assert routing.on_failure(VENUE, 5, "x") is not None


def test_a_venue_down_in_the_journal_is_down_after_a_restart() -> None:
    book = Book()
    routing = VenueRouting(CONFIG, book)
    for t in range(3):
        draft = routing.on_failure(VENUE, t, "x")
    assert draft is not None
    book.add(draft)
    restarted = Book()
    restarted.orders = type(book.orders).from_bytes(book.orders.to_bytes())
    fresh = VenueRouting(CONFIG, restarted)
    assert not fresh.routable(VENUE) and fresh.probe_due(VENUE, book.t)  # probed at once
