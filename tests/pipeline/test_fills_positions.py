"""Positions from fills (average price, realised and unrealised P&L with fees), stop-loss and
take-profit exits, and replay equality of both projections over the real SQLite journal."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from pydantic import ValidationError

from zkrisk.engine.journal.events import Draft, IntentEmitted, OrderSpec, OrderSubmitted, Quote
from zkrisk.engine.journal.projection import check_projection, load_projection
from zkrisk.engine.journal.sqlite import SQLiteJournal
from zkrisk.engine.pipeline.fills import (
    STOP_LOSS,
    TAKE_PROFIT,
    ExitLevels,
    ExitPolicy,
    FillOutcomeKind,
    Positions,
    PositionsProjection,
    exits,
)
from zkrisk.engine.pipeline.orders import Orders, OrdersProjection, Trigger
from zkrisk.engine.pipeline.signal import client_order_id
from zkrisk.engine.risk.models import OrderType, Side

from .orders_support import VENUE, Book, D


def traded(fee: str = "0", fee_currency: str = "USDC") -> Book:
    """Buy 1 @ 2000, buy 1 @ 2010, sell 0.5 @ 2020, sell 2.5 @ 1990 (a flip to short 1)."""
    book = Book()
    book.submit("c-1", quantity="2", side="BUY")
    book.submit("c-2", quantity="3", side="SELL")
    for coid, qty, price, side in (("c-1", "1", "2000", "BUY"), ("c-1", "1", "2010", "BUY"),
                                   ("c-2", "0.5", "2020", "SELL"),
                                   ("c-2", "2.5", "1990", "SELL")):  # fmt: skip
        outcome = book.fill(coid, qty, price, fee=fee, side=side, fee_currency=fee_currency)
        assert outcome.kind is FillOutcomeKind.APPLIED
    return book


def test_the_average_price_follows_increases_reductions_and_a_flip() -> None:
    book = Book()
    book.submit("c-1", quantity="2", side="BUY")
    book.submit("c-2", quantity="3", side="SELL")
    p = book.positions
    book.fill("c-1", "1", "2000")
    book.fill("c-1", "1", "2010")
    assert (p.quantity("WETH"), p.average_price("WETH")) == (D(2), D(2005))
    book.fill("c-2", "0.5", "2020", side="SELL")  # a reduction keeps the entry price
    assert (p.quantity("WETH"), p.average_price("WETH")) == (D("1.5"), D(2005))
    book.fill("c-2", "2.5", "1990", side="SELL")  # through zero: the rest opened at 1990
    assert (p.quantity("WETH"), p.average_price("WETH")) == (D(-1), D(1990))


def test_realised_pnl_is_net_of_fees_and_unrealised_is_marked_at_the_mid() -> None:
    book = traded(fee="1")
    p = book.positions
    # 0.5 · (2020 − 2005) + 1.5 · (1990 − 2005) = 7.5 − 22.5 = −15, minus 4 fees of 1
    assert p.realised_pnl("WETH") == D(-19) and p.fees["WETH"] == D(4)
    assert p.unrealised_pnl() == 0  # no mark yet
    book.quote("1980", "1982")  # mid 1981; short 1 from 1990
    assert p.unrealised_pnl("WETH") == D(9) and p.unrealised_pnl() == D(9)
    assert p.realised_pnl() == D(-19)


def test_fees_in_another_currency_are_tallied_apart_not_in_pnl() -> None:
    p = traded(fee="0.001", fee_currency="WETH").positions
    assert p.realised_pnl("WETH") == D(-15) and p.other_fees == {"WETH": D("0.004")}


def test_each_venues_quantity_is_kept_for_reconciliation() -> None:
    p = traded().positions
    assert p.venue_quantity == {(VENUE, "WETH"): D(-1)}


def test_a_quote_outside_the_market_data_streams_does_not_mark() -> None:
    book = traded()
    quote = Quote(source="x", symbol="WETH", bid=D(1), ask=D(2), bid_size=D(1), ask_size=D(1))
    book.event("q:1", quote, stream="quarantine")
    assert book.positions.marks == {}


def test_the_positions_snapshot_round_trips_and_refuses_a_number_that_is_not_text() -> None:
    book = traded(fee="1")
    book.quote("1980", "1982")
    data = book.positions.to_bytes()
    assert Positions.from_bytes(data).to_bytes() == data
    assert b'"WETH":"-19.0"' in data
    with pytest.raises(ValueError, match="a Decimal in a snapshot is a string"):
        Positions.from_bytes(data.replace(b'"WETH":"-19.0"', b'"WETH":-19.0'))


# --- exits ---------------------------------------------------------------------------------

POLICY = ExitPolicy(default=ExitLevels(stop_loss_bps=100, take_profit_bps=200), venue=VENUE,
                    max_slippage_bps=40)  # fmt: skip


def long_one() -> Book:
    book = Book()
    book.submit("c-1", quantity="1")
    book.fill("c-1", "1", "2000")
    return book


def test_a_quote_through_the_stop_loss_gives_one_reducing_market_exit() -> None:
    book = long_one()
    assert exits(book.positions, book.quote("1985", "1987"), POLICY) == []  # −70 bps
    quote = book.quote("1979", "1981")  # mid 1980: −100 bps
    [draft] = exits(book.positions, quote, POLICY)
    event = draft.event
    assert isinstance(event, IntentEmitted) and event.strategy_id == STOP_LOSS
    intent = event.intent
    assert (intent.side, intent.quantity, intent.order_type, intent.max_slippage_bps) == (
        Side.SELL, D(1), OrderType.MARKET, 40)  # fmt: skip
    assert (intent.counterparty, event.reference_price) == (VENUE, D(1980))
    assert intent.client_order_id == client_order_id(STOP_LOSS, quote.key, 0)
    assert (draft.stream, draft.key, draft.causation_id) == (
        "signal", f"intent:{STOP_LOSS}:{quote.key}", quote.key)  # fmt: skip


def test_a_quote_through_the_take_profit_exits_and_a_short_is_mirrored() -> None:
    book = long_one()
    [draft] = exits(book.positions, book.quote("2039", "2041"), POLICY)
    assert draft.event.strategy_id == TAKE_PROFIT  # type: ignore[union-attr]
    short = Book()
    short.submit("s-1", quantity="2", side="SELL")
    short.fill("s-1", "2", "2000", side="SELL")
    [stop] = exits(short.positions, short.quote("2019", "2021"), POLICY)  # +100 bps against
    assert stop.event.strategy_id == STOP_LOSS  # type: ignore[union-attr]
    assert stop.event.intent.side is Side.BUY and stop.event.intent.quantity == D(2)  # type: ignore[union-attr]
    [take] = exits(short.positions, short.quote("1959", "1961"), POLICY)
    assert take.event.strategy_id == TAKE_PROFIT  # type: ignore[union-attr]


def test_an_exit_already_working_is_not_sent_again() -> None:
    book = long_one()
    quote = book.quote("1900", "1902")
    [draft] = exits(book.positions, quote, POLICY)
    assert isinstance(draft.event, IntentEmitted)
    intent = draft.event.intent
    spec = OrderSpec(client_order_id=intent.client_order_id, strategy_id=intent.strategy_id,
                     venue=VENUE, symbol=intent.symbol, side=intent.side,
                     quantity=intent.quantity, max_slippage_bps=intent.max_slippage_bps,
                     reference_price=D(1901))  # fmt: skip
    book.event(f"order:{intent.client_order_id}", OrderSubmitted(order=spec))
    assert book.orders.working_symbols() == {"WETH"}
    later = book.quote("1890", "1892")
    assert exits(book.positions, later, POLICY, working=book.orders.working_symbols()) == []


def test_per_symbol_levels_override_the_default_and_none_means_no_exit() -> None:
    policy = POLICY.model_copy(update={"symbols": {"WETH": ExitLevels(stop_loss_bps=500)}})
    book = long_one()
    assert exits(book.positions, book.quote("1901", "1903"), policy) == []  # −490 bps
    assert exits(book.positions, book.quote("2099", "2101"), policy) == []  # no take-profit
    [draft] = exits(book.positions, book.quote("1899", "1900"), policy)  # mid 1899.5
    assert draft.event.strategy_id == STOP_LOSS  # type: ignore[union-attr]


def test_no_position_no_exit_and_the_policy_refuses_unknown_fields() -> None:
    book = Book()
    assert exits(book.positions, book.quote("1", "2"), POLICY) == []
    with pytest.raises(ValidationError, match="extra"):
        ExitPolicy(venue=VENUE, stop_loss=1)  # type: ignore[call-arg]


# --- replay equality over the real journal --------------------------------------------------


def busy_book(seed: int = 7, orders: int = 600) -> Book:
    """A few thousand records: orders acked or not, partial and duplicate fills, overfills,
    unknown fills, cancels, timeouts with late fills, retries, and quotes between them."""
    rng = random.Random(seed)
    book = Book()
    for i in range(orders):
        coid, side = f"o-{i}", rng.choice(["BUY", "SELL"])
        symbol = rng.choice(["WETH", "WBTC"])
        book.submit(coid, quantity=str(rng.randint(1, 4)), side=side, symbol=symbol)
        if rng.random() < 0.2:
            book.trigger(Trigger.RETRY, coid)
        ending = rng.random()
        if ending < 0.6:
            book.trigger(Trigger.ACCEPT, coid)
        for _ in range(rng.randint(0, 3)):
            fill_id = f"{coid}-{rng.randint(0, 2)}"  # repeats: duplicates
            book.fill(coid, str(rng.choice(["0.5", "1", "2"])), str(1990 + rng.randint(0, 20)),
                      fill_id=fill_id, fee="0.1", side=side, symbol=symbol)  # fmt: skip
        if ending >= 0.9:
            book.trigger(Trigger.TIME_OUT, coid)
            book.fill(coid, "0.5", "2000", side=side, symbol=symbol)  # late
        elif ending >= 0.8:
            book.trigger(Trigger.CANCEL, coid)
        if rng.random() < 0.05:
            book.fill("ghost", "1", "2000")
        mid = 1990 + rng.randint(0, 20)
        book.quote(str(mid), str(mid + 1), symbol=symbol)
    return book


def test_snapshot_plus_tail_equals_a_replay_from_scratch_over_sqlite(tmp_path: Path) -> None:
    book = busy_book()
    records = book.tape.records
    assert len(records) > 2_000
    with SQLiteJournal(tmp_path / "j.db") as journal:
        journal.append([Draft(r.stream, r.key, r.event, r.event_time_ns, r.recv_time_ns,
                              r.causation_id) for r in records])  # fmt: skip
        half = len(records) // 2
        orders, positions = Orders(), Positions()
        for rec in journal.iter_from(0):
            if rec.position > half:
                break
            orders.apply(rec)
            positions.apply(rec)
        journal.save_snapshot("orders/v1", half, orders.to_bytes())
        journal.save_snapshot("positions/v1", half, positions.to_bytes())
        saved = journal.load_snapshot("orders/v1"), journal.load_snapshot("positions/v1")
        assert saved[0] is not None and saved[1] is not None
        o, p = Orders.from_bytes(saved[0][1]), Positions.from_bytes(saved[1][1])
        for rec in journal.iter_from(0):  # records at or before the snapshot are skipped
            o.apply(rec)
            p.apply(rec)
        scratch_o, scratch_p = Orders(), Positions()
        for rec in journal.iter_from(0):
            scratch_o.apply(rec)
            scratch_p.apply(rec)
    assert o.to_bytes() == scratch_o.to_bytes() == book.orders.to_bytes()
    assert p.to_bytes() == scratch_p.to_bytes() == book.positions.to_bytes()
    assert scratch_p.fills > 100 and any(x.late_fills for x in scratch_o.orders.values())
    assert all(x.filled <= x.spec.quantity for x in scratch_o.orders.values())


def test_the_projection_adapters_from_a_snapshot_equal_a_replay(tmp_path: Path) -> None:
    records = busy_book(orders=30).tape.records
    with SQLiteJournal(tmp_path / "j.db") as journal:
        drafts = [Draft(r.stream, r.key, r.event, r.event_time_ns, r.recv_time_ns)
                  for r in records]  # fmt: skip
        journal.append(drafts[: len(drafts) // 2])
        load_projection(journal, OrdersProjection(), snapshot_every=9)
        load_projection(journal, PositionsProjection(), snapshot_every=9)
        journal.append(drafts[len(drafts) // 2 :])
        checks = [check_projection(journal, OrdersProjection()),
                  check_projection(journal, PositionsProjection())]  # fmt: skip
    for check in checks:
        assert check.equal and check.snapshot_position > 0 and check.tail > 0, check.name
    state = OrdersProjection().initial()
    assert OrdersProjection().apply(state, records[0]) is not state and state.position == 0
