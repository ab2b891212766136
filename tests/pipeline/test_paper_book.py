"""Paper fills at the quote an approved intent would cross, and the paper book's P&L by hand."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tests.unit.risk_fixtures import ACCOUNT, engine
from zkrisk.engine.journal.events import Draft, PaperFill, Quote
from zkrisk.engine.journal.projection import check_projection, load_projection
from zkrisk.engine.journal.sqlite import SQLiteJournal
from zkrisk.engine.pipeline.paper import (
    PaperBook,
    PaperBookProjection,
    paper_fill,
    paper_fill_draft,
)
from zkrisk.engine.risk.models import (
    OrderIntent,
    Side,
    TradingState,
    Verdict,
    VerdictKind,
)

from .tape import NS, T0, Tape

D = Decimal
QUOTE = Quote(source="feed", symbol="WETH", bid=D("1999"), ask=D("2001"), bid_size=D(3),
              ask_size=D(2))  # fmt: skip


def intent(side: str = "BUY", quantity: str = "1", limit: str | None = "2005") -> OrderIntent:
    return OrderIntent(client_order_id="c-1", symbol="WETH", side=Side(side),
                       quantity=D(quantity), limit_price=None if limit is None else D(limit),
                       order_type="LIMIT" if limit else "MARKET",
                       max_slippage_bps=None if limit else 50, counterparty="venue-a",
                       strategy_id="mom")  # fmt: skip


def verdict(kind: VerdictKind = VerdictKind.APPROVE) -> Verdict:
    return Verdict(kind=kind, client_order_id="c-1", policy_id="test/1")


def test_an_approved_buy_fills_at_the_ask_and_a_sell_at_the_bid() -> None:
    buy = paper_fill(intent("BUY"), verdict(), QUOTE)
    sell = paper_fill(intent("SELL", limit="1990"), verdict(), QUOTE)
    assert buy is not None and (buy.side, buy.price, buy.quantity) == (Side.BUY, D(2001), D(1))
    assert sell is not None and (sell.side, sell.price) == (Side.SELL, D(1999))
    assert buy.strategy_id == "mom" and buy.client_order_id == "c-1"


@pytest.mark.parametrize("kind", [VerdictKind.REJECT, VerdictKind.FLAG_FOR_REVIEW])
def test_an_intent_that_is_not_approved_does_not_fill(kind: VerdictKind) -> None:
    assert paper_fill(intent(), verdict(kind), QUOTE) is None


def test_a_limit_that_does_not_reach_the_quote_does_not_fill() -> None:
    assert paper_fill(intent("BUY", limit="2000.99"), verdict(), QUOTE) is None
    assert paper_fill(intent("SELL", limit="1999.01"), verdict(), QUOTE) is None
    assert paper_fill(intent("BUY", limit=None), verdict(), QUOTE) is not None  # market order


def test_a_fill_takes_at_most_the_displayed_size() -> None:
    fill = paper_fill(intent("BUY", quantity="5"), verdict(), QUOTE)
    assert fill is not None and fill.quantity == D(2)


def test_the_fill_draft_is_keyed_by_the_client_order_id_and_caused_by_the_verdict() -> None:
    draft = paper_fill_draft(intent(), verdict(), QUOTE, verdict_key="verdict:c-1",
                             event_time_ns=T0, recv_time_ns=T0)  # fmt: skip
    assert draft is not None
    assert (draft.stream, draft.key, draft.causation_id) == ("pretrade", "paperfill:c-1",
                                                             "verdict:c-1")  # fmt: skip


def fill(side: str, quantity: str, price: str, strategy: str = "mom") -> PaperFill:
    return PaperFill(client_order_id="x", strategy_id=strategy, symbol="WETH", side=Side(side),
                     quantity=D(quantity), price=D(price))  # fmt: skip


def mark(book: PaperBook, bid: str, ask: str) -> None:
    book.mark(Quote(source="feed", symbol="WETH", bid=D(bid), ask=D(ask), bid_size=D(1),
                    ask_size=D(1)), T0)  # fmt: skip


def test_realised_and_unrealised_pnl_match_the_hand_computed_numbers() -> None:
    book = PaperBook(starting_equity=D(10_000))
    book.fill(fill("BUY", "2", "101"))
    mark(book, "104", "106")  # mid 105: unrealised 2 · (105 - 101) = 8
    assert (book.realised(), book.unrealised(), book.equity()) == (D(0), D(8), D(10_008))
    book.fill(fill("SELL", "1", "104"))  # closes 1 bought at 101: realised 3
    mark(book, "98", "100")  # mid 99: the remaining 1 @ 101 is -2
    assert book.position_of("mom", "WETH") == D(1)
    assert book.holdings[("mom", "WETH")].average_price == D(101)
    assert (book.realised(), book.unrealised(), book.equity()) == (D(3), D(-2), D(10_001))
    # Equity also equals starting equity + cash flow + the position at the mark.
    assert book.starting_equity + book.cash + D(1) * D(99) == book.equity()
    record = book.strategies["mom"]
    assert (record.fills, record.closing_fills, record.hits) == (2, 1, 1)


def test_averaging_in_and_flipping_through_zero() -> None:
    book = PaperBook(starting_equity=D(1_000))
    book.fill(fill("BUY", "1", "100"))
    book.fill(fill("BUY", "3", "104"))  # average (100 + 312) / 4 = 103
    assert book.holdings[("mom", "WETH")].average_price == D(103)
    book.fill(fill("SELL", "6", "110"))  # closes 4 at +7 each = 28, then short 2 opened at 110
    holding = book.holdings[("mom", "WETH")]
    assert (holding.quantity, holding.average_price, book.realised()) == (D(-2), D(110), D(28))
    mark(book, "114", "116")  # mid 115: the short loses 2 · 5 = 10
    assert (book.unrealised(), book.equity()) == (D(-10), D(1_018))


def test_pnl_is_kept_per_strategy() -> None:
    book = PaperBook(starting_equity=D(1_000))
    book.fill(fill("BUY", "1", "100", strategy="a"))
    book.fill(fill("SELL", "1", "100", strategy="b"))
    mark(book, "104", "106")
    assert (book.pnl("a"), book.pnl("b"), book.pnl()) == (D(5), D(-5), D(0))
    assert book.net_position("WETH") == D(0)


def test_an_older_quote_does_not_overwrite_a_newer_mark() -> None:
    book = PaperBook(starting_equity=D(0))
    quote = Quote(source="feed", symbol="WETH", bid=D(99), ask=D(101), bid_size=D(1),
                  ask_size=D(1))  # fmt: skip
    book.mark(quote, T0 + NS)
    book.mark(quote.model_copy(update={"bid": D(9), "ask": D(11)}), T0)
    assert book.marks["WETH"].price == D(100)


def test_a_snapshot_plus_the_tail_equals_a_replay_from_scratch() -> None:
    tape = Tape()
    for i in range(40):
        tape.quote(str(100 + i % 7), str(102 + i % 7), t=T0 + i * NS)
        if i % 3 == 0:
            tape.fill("mom", "BUY" if i % 2 else "SELL", "0.5", str(101 + i % 7), t=T0 + i * NS)
    full = PaperBook(starting_equity=D(5_000))
    for rec in tape.records:
        full.apply(rec)
    half = PaperBook(starting_equity=D(5_000))
    for rec in tape.records[:25]:
        half.apply(rec)
    restored = PaperBook.from_bytes(half.to_bytes())
    for rec in tape.records:  # records at or before the snapshot position are skipped
        restored.apply(rec)
    assert restored == full and restored.to_bytes() == full.to_bytes()
    assert restored.position == len(tape.records)


def test_check_inputs_give_the_gate_the_paper_book_and_it_judges_them() -> None:
    tape = Tape()
    tape.quote("1999", "2001", t=T0)
    tape.fill("mom", "BUY", "2", "2001", t=T0)
    book = PaperBook(starting_equity=D(100_000))
    for rec in tape.records:
        book.apply(rec)
    order = intent("BUY", limit="2001")
    now = T0 // NS + 1
    inputs = book.check_inputs(order, account=ACCOUNT, quote_symbol="USDC",
                               trading_state=TradingState.ACTIVE, now=now)  # fmt: skip
    assert inputs.portfolio.quantity_fixed("WETH") == 2 * 10**8
    assert inputs.portfolio.quantity_fixed("USDC") == (100_000 - 4_002) * 10**8
    assert inputs.prices.prices["WETH"].price == D(2000)
    assert inputs.prices.prices["WETH"].timestamp == T0 // NS
    assert engine().check(order, *inputs).kind is VerdictKind.APPROVE
    halted = book.check_inputs(order, account=ACCOUNT, quote_symbol="USDC",
                               trading_state=TradingState.HALTED, now=now)  # fmt: skip
    assert engine().check(order, *halted).codes[0] == "TRADING_HALTED"


def test_check_inputs_leave_an_unquoted_symbol_without_a_price_so_the_gate_fails_closed() -> None:
    book = PaperBook(starting_equity=D(100_000))
    order = intent("BUY", limit="2001")
    inputs = book.check_inputs(order, account=ACCOUNT, quote_symbol="USDC",
                               trading_state=TradingState.ACTIVE, now=T0 // NS)  # fmt: skip
    assert "PRICE_MISSING" in engine().check(order, *inputs).codes


def test_the_paper_book_projection_from_a_snapshot_equals_a_replay_over_sqlite(
    tmp_path: Path,
) -> None:
    tape = Tape()
    for i in range(30):
        tape.quote(str(100 + i % 5), str(102 + i % 5), t=T0 + i * NS)
        if i % 4 == 0:
            tape.fill("mom", "SELL" if i % 8 else "BUY", "1", str(101 + i % 5), t=T0 + i * NS)
    projection = PaperBookProjection(starting_equity=D(1_000))
    with SQLiteJournal(tmp_path / "j.db") as journal:
        journal.append([Draft(r.stream, r.key, r.event, r.event_time_ns, r.recv_time_ns)
                        for r in tape.records[:20]])  # fmt: skip
        runner = load_projection(journal, projection, snapshot_every=7)
        assert journal.load_snapshot(projection.name) is not None
        journal.append([Draft(r.stream, r.key, r.event, r.event_time_ns, r.recv_time_ns)
                        for r in tape.records[20:]])  # fmt: skip
        check = check_projection(journal, projection)
        assert check.equal and check.snapshot_position > 0 and check.tail > 0
        assert runner.state.position == 20
    first = projection.initial()
    assert projection.apply(first, tape.records[0]) is not first and first.position == 0
