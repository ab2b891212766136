"""The book handed to the attester, from a journal (pure: engine/pipeline/book_handoff.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from zkrisk.engine.chain import dev_scenario as ds
from zkrisk.engine.journal.events import (
    Event,
    Heartbeat,
    OrderFilled,
    ReconcileMismatch,
    Recorded,
)
from zkrisk.engine.pipeline.book_handoff import (
    HandoffError,
    JournalBook,
    NotReconciled,
    fold_journal,
    handed_book,
    reconcile_drafts,
)
from zkrisk.engine.risk.models import Portfolio, Position, Side

D = Decimal
ACCOUNT = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
LISTED = ds.ASSETS  # USDC (6 decimals), WETH (18), WBTC (8)


class Tape:
    """Journal records in position order."""

    def __init__(self) -> None:
        self.records: list[Recorded] = []

    def add(self, event: Event, stream: str = "fills") -> Recorded:
        n = len(self.records) + 1
        rec = Recorded(n, stream, n, f"k{n}", event, n, n, None, "")
        self.records.append(rec)
        return rec

    def fill(self, side: Side, quantity: str, price: str, symbol: str = "WETH", *,
             fee: str = "0", fee_currency: str = "ETH", venue: str = "uniswap") -> None:  # fmt: skip
        n = len(self.records) + 1
        self.add(OrderFilled(client_order_id=f"o{n}", venue=venue, fill_id=f"f{n}", symbol=symbol,
                             side=side, quantity=D(quantity), price=D(price), fee=D(fee),
                             fee_currency=fee_currency))  # fmt: skip

    def reconcile(self, balances: dict[str, D], venue: str = "uniswap") -> None:
        """What `zkrisk reconcile` journals against these venue balances."""
        state = self.state()
        drafts = reconcile_drafts(state, venue, balances, symbols=sorted(balances),
                                  tolerance=D("1e-8"), now_ns=0)  # fmt: skip
        for draft in drafts:
            self.add(draft.event)

    def state(self) -> JournalBook:
        return fold_journal(self.records)


def hand(tape: Tape, **kwargs: object) -> Portfolio:
    return handed_book(tape.state(), venue="uniswap", account=ACCOUNT, listed=LISTED,
                       **kwargs).portfolio  # type: ignore[arg-type]  # fmt: skip


def held(portfolio: Portfolio) -> dict[str, D]:
    return {p.symbol: p.quantity for p in portfolio.positions}


def test_the_reconciled_book_is_the_base_book_plus_the_fills_and_their_cash_leg() -> None:
    tape = Tape()
    tape.fill(Side.BUY, "2", "3000", fee="0.0001")
    tape.fill(Side.SELL, "0.5", "3100", fee="1.5", fee_currency="USDC")
    tape.reconcile({"WETH": D("1.5")})
    base = Portfolio(account=ACCOUNT, positions=(Position(symbol="WBTC", quantity=D("1.5")),
                                                 Position(symbol="WETH", quantity=D(-12))))  # fmt: skip
    handed = handed_book(tape.state(), venue="uniswap", account=ACCOUNT, listed=LISTED, base=base)
    # cash: −2·3000 + 0.5·3100 − 1.5 USDC fee; the ETH gas fee is no position of the book
    assert held(handed.portfolio) == {"WBTC": D("1.5"), "WETH": D("-10.5"), "USDC": D("-4451.5")}
    assert handed.traded == {"WETH": D("1.5"), "USDC": D("-4451.5")}
    assert handed.other_fees == {"ETH": D("0.0001")}
    assert handed.through_position == 2


def test_a_journal_never_reconciled_is_refused_saying_to_run_reconcile() -> None:
    tape = Tape()
    tape.fill(Side.BUY, "1", "3000")
    with pytest.raises(NotReconciled, match=r"no reconciliation with uniswap yet: run `zkrisk "
                                            r"reconcile`"):  # fmt: skip
        hand(tape)


def test_a_journal_whose_last_reconciliation_found_a_mismatch_is_refused() -> None:
    tape = Tape()
    tape.fill(Side.BUY, "1", "3000")
    tape.reconcile({"WETH": D(1)})
    tape.reconcile({"WETH": D("0.5")})  # someone traded behind the bot's back
    assert isinstance(tape.records[-1].event, ReconcileMismatch)
    with pytest.raises(NotReconciled, match=r"found a mismatch: the book holds 1 WETH from its "
                                            r"fills, uniswap reports 0.5"):  # fmt: skip
        hand(tape)


def test_a_fill_after_the_last_reconciliation_is_refused() -> None:
    tape = Tape()
    tape.fill(Side.BUY, "1", "3000")
    tape.reconcile({"WETH": D(1)})
    tape.fill(Side.BUY, "1", "3000")
    with pytest.raises(NotReconciled, match=r"a fill from uniswap was journaled \(position 3\) "
                                            r"after the last reconciliation"):  # fmt: skip
        hand(tape)


def test_another_venues_reconciliation_does_not_cover_this_venue() -> None:
    tape = Tape()
    tape.fill(Side.BUY, "1", "3000")
    tape.reconcile({"WETH": D(0)}, venue="simex")
    with pytest.raises(NotReconciled, match="no reconciliation with uniswap"):
        hand(tape)


def test_records_after_the_reconciliation_that_are_no_fills_keep_it_valid() -> None:
    tape = Tape()
    tape.fill(Side.BUY, "1", "3000")
    tape.reconcile({"WETH": D(1)})
    tape.add(Heartbeat(component="pipeline"), stream="monitor")
    assert held(hand(tape)) == {"WETH": D(1), "USDC": D(-3000)}


def test_an_asset_the_vault_does_not_list_is_refused_naming_it_and_the_fix() -> None:
    tape = Tape()
    tape.fill(Side.BUY, "10", "1.2", symbol="ARB")
    tape.reconcile({"ARB": D(10)})
    with pytest.raises(HandoffError, match=r"ARB \(10 from uniswap's fills\) is not an asset the "
                                           r"vault lists \(USDC, WETH, WBTC\): map it to a listed "
                                           r"one \(--map ARB=SYMBOL\)") as caught:  # fmt: skip
        hand(tape)
    assert not isinstance(caught.value, NotReconciled)


def test_a_flat_position_in_an_unlisted_asset_is_not_in_the_book() -> None:
    tape = Tape()
    tape.fill(Side.BUY, "10", "1.2", symbol="ARB")
    tape.fill(Side.SELL, "10", "1.2", symbol="ARB")
    tape.reconcile({"ARB": D(0)})
    assert held(hand(tape)) == {}


def test_a_journal_symbol_maps_to_the_vaults_listed_symbol() -> None:
    tape = Tape()
    tape.fill(Side.BUY, "1", "3000", symbol="ETH")
    tape.reconcile({"ETH": D(1)})
    assert held(hand(tape, symbol_map={"ETH": "WETH"})) == {"WETH": D(1), "USDC": D(-3000)}


def test_quantities_round_toward_minus_infinity_to_the_tokens_and_the_books_decimals() -> None:
    tape = Tape()
    tape.fill(Side.BUY, "0.123456789123456789", "3000.0000001")  # WETH: 18 decimals, book 8
    tape.reconcile({"WETH": D("0.123456789123456789")})
    handed = handed_book(tape.state(), venue="uniswap", account=ACCOUNT, listed=LISTED)
    cash = D("-0.123456789123456789") * D("3000.0000001")  # −370.370367…, USDC has 6 decimals
    assert held(handed.portfolio) == {"WETH": D("0.12345678"), "USDC": D("-370.370368")}
    assert handed.dust == {"WETH": D("0.000000009123456789"), "USDC": cash + D("370.370368")}
    assert all(v > 0 for v in handed.dust.values())  # collateral never grows, debt never shrinks


def test_a_base_book_of_another_account_is_refused() -> None:
    tape = Tape()
    tape.reconcile({"WETH": D(0)})
    other = Portfolio(account="0x" + "11" * 20)
    with pytest.raises(HandoffError, match="the base book is 0x1111"):
        hand(tape, base=other)


def test_an_agreeing_reconciliation_is_one_record_keyed_by_the_position_it_covers() -> None:
    tape = Tape()
    tape.fill(Side.BUY, "1", "3000")
    (draft,) = reconcile_drafts(tape.state(), "uniswap", {"WETH": D(1)}, symbols=["WETH"],
                                tolerance=D("1e-8"), now_ns=5)  # fmt: skip
    assert draft.key == "reconciled:uniswap:1" and draft.stream == "fills"
    assert draft.event.book == {"WETH": D(1)}  # type: ignore[union-attr]
