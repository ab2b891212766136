"""Fills are applied once, matched to their order, and quarantined when they cannot be."""

from __future__ import annotations

import json

from zkrisk.engine.journal.events import OrderFilled, Quarantined
from zkrisk.engine.pipeline.fills import FillOutcomeKind, apply_fill, fill_key
from zkrisk.engine.pipeline.orders import Trigger

from .orders_support import VENUE, Book, D, fill_report
from .tape import T0

APPLIED, DUPLICATE, QUARANTINED = (FillOutcomeKind.APPLIED, FillOutcomeKind.DUPLICATE,
                                   FillOutcomeKind.QUARANTINED)  # fmt: skip


def accepted(quantity: str = "2") -> Book:
    book = Book()
    book.submit(quantity=quantity)
    book.trigger(Trigger.ACCEPT)
    return book


def test_a_duplicate_fill_by_fill_id_is_applied_once() -> None:
    book = accepted()
    first = book.fill(quantity="1", fill_id="T-7")
    again = book.fill(quantity="1", fill_id="T-7")
    assert (first.kind, again.kind) == (APPLIED, DUPLICATE)
    assert first.key == again.key == f"fill:{VENUE}:T-7" and again.draft is None
    assert book.positions.quantity("WETH") == D(1) and book.positions.fills == 1
    order = book.orders.get("c-1")
    assert order is not None and order.filled == D(1) and order.fill_keys == {first.key}


def test_a_duplicate_fill_by_order_and_sequence_is_applied_once_where_the_venue_has_no_id() -> None:
    book = accepted()
    first = book.fill(quantity="0.5", fill_id="", seq=1)
    again = book.fill(quantity="0.5", fill_id="", seq=1)
    second = book.fill(quantity="0.5", fill_id="", seq=2)
    assert (first.kind, again.kind, second.kind) == (APPLIED, DUPLICATE, APPLIED)
    assert first.key == f"fill:{VENUE}:c-1:1" and second.key == f"fill:{VENUE}:c-1:2"
    assert book.positions.quantity("WETH") == D(1)
    recorded = book.tape.by_key[first.key].event
    assert isinstance(recorded, OrderFilled) and recorded.fill_id == "c-1:1"


def test_a_fill_id_seen_again_after_a_restart_is_still_a_duplicate() -> None:
    book = accepted()
    book.fill(quantity="1", fill_id="T-1")
    restored = type(book.orders).from_bytes(book.orders.to_bytes())
    outcome = apply_fill(fill_report(fill_id="T-1"), VENUE, restored, event_time_ns=T0,
                         recv_time_ns=T0)  # fmt: skip
    assert outcome.kind is DUPLICATE


def test_an_overfill_is_quarantined_with_the_numbers_and_not_applied() -> None:
    book = accepted(quantity="2")
    assert book.fill(quantity="1.5").kind is APPLIED
    outcome = book.fill(quantity="1", price="2003")
    assert (outcome.kind, outcome.reason) == (QUARANTINED, "OVERFILL")
    assert outcome.draft is not None and outcome.draft.stream == "fills"
    event = outcome.draft.event
    assert isinstance(event, Quarantined) and event.source == VENUE
    assert event.detail == ("order c-1 is for 2 and has 1.5 filled: this fill of 1 would make "
                            "2.5")  # fmt: skip
    assert json.loads(event.raw)["quantity"] == "1" and outcome.key.startswith(f"qfill:{VENUE}:")
    assert book.positions.quantity("WETH") == D("1.5")
    order = book.orders.get("c-1")
    assert order is not None and order.filled == D("1.5")
    assert book.fill(quantity="0.5").kind is APPLIED  # exactly the rest still fits


def test_a_fill_for_an_unknown_order_is_quarantined() -> None:
    book = accepted()
    outcome = book.fill(coid="ghost", quantity="1")
    assert (outcome.kind, outcome.reason) == (QUARANTINED, "UNKNOWN_FILL")
    assert outcome.draft is not None and "no order 'ghost'" in outcome.draft.event.detail  # type: ignore[union-attr]
    nameless = book.fill(coid="", quantity="1")
    assert (nameless.kind, nameless.reason) == (QUARANTINED, "UNKNOWN_FILL")
    assert book.positions.quantity("WETH") == 0 and book.positions.fills == 0


def test_a_fill_with_neither_an_id_nor_a_sequence_is_quarantined_since_it_cannot_be_deduped() -> (
    None
):
    book = accepted()
    outcome = book.fill(quantity="1", fill_id="", seq=0)
    assert (outcome.kind, outcome.reason) == (QUARANTINED, "FILL_WITHOUT_ID")
    assert book.positions.quantity("WETH") == 0


def test_a_fill_on_another_symbol_or_side_than_its_order_is_quarantined() -> None:
    book = accepted()
    assert book.fill(quantity="1", symbol="WBTC").reason == "FILL_MISMATCH"
    assert book.fill(quantity="1", side="SELL").reason == "FILL_MISMATCH"
    assert book.positions.fills == 0


def test_a_fill_with_a_non_positive_quantity_is_quarantined() -> None:
    book = accepted()
    assert book.fill(quantity="0").reason == "MALFORMED_FILL"
    assert book.fill(quantity="1", price="0").reason == "MALFORMED_FILL"


def test_the_same_bad_fill_quarantines_under_one_key_so_the_journal_keeps_it_once() -> None:
    book = accepted()
    one = book.fill(coid="ghost", fill_id="X")
    two = book.fill(coid="ghost", fill_id="X")
    assert one.key == two.key
    assert [r.key for r in book.tape.records].count(one.key) == 1


def test_the_fill_key_prefers_the_venues_fill_id() -> None:
    assert fill_key("v", fill_report(fill_id="9", seq=3)) == "fill:v:9"
    assert fill_key("v", fill_report(fill_id="", seq=3)) == "fill:v:c-1:3"
    assert fill_key("v", fill_report(fill_id="", seq=0)) is None
