"""The simulated exchange's matching engine on its own: priority, partial fills, the maker,
idempotent client order ids, balances, determinism."""

from __future__ import annotations

from decimal import Decimal

import pytest

from zkrisk.engine.pipeline.venues.simex_book import (
    MM_ACCOUNT,
    Book,
    BookError,
    MakerConfig,
    OrderStatus,
)

D = Decimal


def book(**kw: object) -> Book:
    return Book({"WETH": D(3000)}, seed=7, **kw)  # type: ignore[arg-type]


def test_a_market_order_larger_than_the_best_level_fills_partially_across_levels() -> None:
    b = book()
    out = b.place("a", "c1", "WETH", "buy", "market", D(10))
    assert out.order is not None and out.order.status is OrderStatus.CLOSED
    assert [(t.price, t.amount) for t in out.trades] == [(D("3001.50"), D("6.0667")),
                                                         (D("3003.00"), D("3.9333"))]  # fmt: skip
    assert out.order.filled == D(10) and out.order.average == out.order.cost / 10
    assert all(t.taker_or_maker == "taker" for t in out.trades)


def test_a_market_order_beyond_its_protection_price_expires_with_what_filled() -> None:
    out = book().place("a", "c1", "WETH", "buy", "market", D(10), D("3002"))
    assert out.order is not None and out.order.status is OrderStatus.EXPIRED
    assert out.order.filled == D("6.0667") and "no more liquidity" in out.order.reason


def test_a_limit_order_away_from_the_market_rests_and_fills_as_maker_when_the_mid_moves() -> None:
    b = book()
    order = b.place("a", "c1", "WETH", "buy", "limit", D(1), D(2990)).order
    assert order is not None and b.open_orders("a") == [order]
    assert (order.status, order.filled) == (OrderStatus.OPEN, D(0))
    moved = b.set_mid("WETH", D(2980))
    assert (order.status, order.filled) == (OrderStatus.CLOSED, D(1)) and moved.touched == [order]
    assert [(t.price, t.taker_or_maker) for t in moved.trades] == [(D(2990), "maker")]


def test_better_prices_fill_first_and_equal_prices_in_time_priority() -> None:
    b = book(maker=MakerConfig(half_spread_bps=1_000))  # the maker's asks start at 3300
    first = b.place("a", "c1", "WETH", "sell", "limit", D(1), D(3100)).order
    second = b.place("b", "c2", "WETH", "sell", "limit", D(1), D(3100)).order
    better = b.place("b", "c3", "WETH", "sell", "limit", D(1), D(3150)).order
    cheaper = b.place("b", "c4", "WETH", "sell", "limit", D("0.25"), D(3050)).order
    out = b.place("c", "c5", "WETH", "buy", "limit", D("1.75"), D(3100))
    assert first is not None and second is not None and better is not None and cheaper
    assert [(t.price, t.amount) for t in out.trades if t.account == "c"] == [
        (D(3050), D("0.25")), (D(3100), D(1)),
        (D(3100), D("0.5"))]  # fmt: skip
    assert (first.status, second.filled, better.filled) == (OrderStatus.CLOSED, D("0.5"), D(0))


def test_the_same_client_order_id_twice_returns_the_first_order_and_makes_no_second() -> None:
    b = book()
    first = b.place("a", "c1", "WETH", "buy", "market", D(1))
    again = b.place("a", "c1", "WETH", "sell", "market", D(5))
    assert again.duplicate and again.order is first.order and not again.trades
    assert b.balances("a")["WETH"] == D(1)
    other = b.place("b", "c1", "WETH", "buy", "market", D(1))  # per account
    assert not other.duplicate and other.order is not first.order


def test_a_rejected_client_order_id_stays_rejected_on_retry() -> None:
    b = book()
    b.reject("a", "c1", "WETH", "buy", "market", D(1), None, "VENUE_REJECTED")
    again = b.place("a", "c1", "WETH", "buy", "market", D(1))
    assert again.duplicate and again.order is not None
    assert again.order.status is OrderStatus.REJECTED and not again.trades


def test_cancel_removes_a_resting_order_and_refuses_a_final_one() -> None:
    b = book()
    rest = b.place("a", "c1", "WETH", "buy", "limit", D(1), D(2900)).order
    assert rest is not None
    assert b.cancel("a", client_order_id="c1").order is rest
    assert rest.status is OrderStatus.CANCELED and b.open_orders("a") == []
    b.set_mid("WETH", D(2800))  # the canceled order no longer fills
    assert rest.filled == 0
    with pytest.raises(BookError) as err:
        b.cancel("a", client_order_id="c1")
    assert err.value.code == "ORDER_NOT_OPEN" and err.value.order is rest
    with pytest.raises(BookError) as err:
        b.cancel("b", client_order_id="c1")  # another account cannot see it
    assert err.value.code == "ORDER_NOT_FOUND"


def test_balances_follow_the_fills_with_fees_in_usdc() -> None:
    b = book(taker_fee_bps=10, initial_balances={"USDC": D(100_000)})
    out = b.place("a", "c1", "WETH", "buy", "market", D(2))
    cost = sum((t.cost for t in out.trades), D(0))
    fee = sum((t.fee for t in out.trades), D(0))
    assert fee == (cost / 1000).quantize(D("0.000001"))
    assert b.balances("a") == {"USDC": D(100_000) - cost - fee, "WETH": D(2)}
    assert MM_ACCOUNT not in b.accounts() and b.accounts() == ["a"]


def test_fill_ids_are_unique_and_increasing_and_each_account_has_its_own_sequence() -> None:
    b = book()
    b.place("a", "c1", "WETH", "buy", "market", D(10))
    b.place("b", "c1", "WETH", "sell", "market", D(10))
    b.place("a", "c2", "WETH", "sell", "market", D(1))
    ids = [int(t.id) for a in ("a", "b") for t in b.fills(a)]
    assert len(set(ids)) == len(ids)
    assert [t.seq for t in b.fills("a")] == list(range(1, len(b.fills("a")) + 1))
    assert [t.seq for t in b.fills("a", after_seq=2)] == [3]
    assert sorted(int(t.id) for t in b.fills("a")) == [int(t.id) for t in b.fills("a")]


def test_the_same_seed_builds_the_same_book_and_walk() -> None:
    def run(seed: int) -> list[object]:
        b = Book({"WETH": D(3000)}, seed=seed)
        for _ in range(20):
            b.step_walk()
        out = b.place("a", "c", "WETH", "buy", "market", D(30))
        return [b.mids["WETH"], *((t.price, t.amount) for t in out.trades)]

    assert run(3) == run(3) and run(3) != run(4)


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("DOGE", "buy", "market", D(1), None), "BAD_SYMBOL", "unknown symbol 'DOGE'"),
        (("WETH", "hold", "market", D(1), None), "BAD_REQUEST", "side 'hold'"),
        (("WETH", "buy", "stop", D(1), None), "BAD_REQUEST", "type 'stop'"),
        (("WETH", "buy", "market", D(0), None), "BAD_REQUEST", "amount 0"),
        (("WETH", "buy", "limit", D(1), None), "BAD_REQUEST", "needs a price"),
        (("WETH", "buy", "limit", D(1), D("1.123456789")), "BAD_REQUEST", "at most 8 decimals"),
    ],
)
def test_a_bad_order_is_refused_with_a_reason_naming_the_field(args: tuple[object, ...], code: str,
                                                               words: str) -> None:  # fmt: skip
    with pytest.raises(BookError) as err:
        book().place("a", "c", *args)  # type: ignore[arg-type]  # bad on purpose
    assert err.value.code == code and words in str(err.value)


def test_a_bad_maker_config_is_refused() -> None:
    with pytest.raises(ValueError, match="levels"):
        MakerConfig(levels=0)
    with pytest.raises(ValueError, match="mid of WETH"):
        Book({"WETH": D(0)})
