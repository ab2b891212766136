"""Reconciliation's comparison and what a venue fill does to the monitor's book (pure)."""

from __future__ import annotations

from decimal import Decimal

from zkrisk.engine.journal.events import OrderFilled, ReconcileMismatch
from zkrisk.engine.pipeline.paper import PaperBook
from zkrisk.engine.pipeline.reconcile import mismatches
from zkrisk.engine.risk.models import Side

D = Decimal


def test_a_difference_beyond_the_tolerance_is_a_mismatch_and_within_it_is_not() -> None:
    book = {"WETH": D("1.5"), "WBTC": D("0.1")}
    venue = {"WETH": D("2.5"), "WBTC": D("0.10000001"), "USDC": D("-999")}
    found = mismatches(book, venue, venue="simex", symbols=("WETH", "WBTC"),
                       tolerance=D("0.0000001"), now_ns=5)  # fmt: skip
    (draft,) = found
    event = draft.event
    assert isinstance(event, ReconcileMismatch)
    assert (event.symbol, event.book_quantity, event.venue_quantity) == ("WETH", D("1.5"), D("2.5"))
    assert draft.key == "recon:simex:WETH:1.5:2.5" and draft.stream == "fills"
    assert "difference 1.0" in event.detail


def test_a_symbol_the_venue_does_not_report_counts_as_zero_and_the_quote_asset_is_skipped() -> None:
    found = mismatches({"WETH": D("2")}, {}, venue="simex", symbols=("WETH",),
                       tolerance=D(0), now_ns=0)  # fmt: skip
    assert [d.event.venue_quantity for d in found] == [D(0)]  # type: ignore[union-attr]
    assert mismatches({}, {"USDC": D(5)}, venue="simex", symbols=("WETH",), tolerance=D(0),
                      now_ns=0) == []  # fmt: skip


def test_a_venue_fill_moves_the_book_and_its_usdc_fee_is_paid_from_cash() -> None:
    book = PaperBook(starting_equity=D(1000))
    fill = OrderFilled(client_order_id="c1", venue="simex", fill_id="f1", strategy_id="s",
                       symbol="WETH", side=Side.BUY, quantity=D("0.5"), price=D("100"),
                       fee=D("0.25"))  # fmt: skip
    book.fill(fill)
    assert book.net_position("WETH") == D("0.5")
    assert book.cash == D("-50.25")
    gas = fill.model_copy(update={"fill_id": "f2", "fee_currency": "ETH"})
    book.fill(gas)
    assert book.cash == D("-100.25")  # a fee in another asset is not cash
