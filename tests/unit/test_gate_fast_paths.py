"""The pre-trade gate's fast paths decide exactly as the reference paths: the paper book's
reused prices and portfolio, `price_snapshot`, and `value_book` (against a frozen copy of the
version before its rewrite); and the reuse stops as soon as a mark or a fill moves the book."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from zkrisk.engine.journal.events import PaperFill, Quote
from zkrisk.engine.pipeline.paper import PaperBook
from zkrisk.engine.pipeline.strategies.base import DECIMAL
from zkrisk.engine.risk import fixed_point as fp
from zkrisk.engine.risk.book import BookView, FloatArray, Leg, ScenarioMatrix, value_book
from zkrisk.engine.risk.checks import RiskEngine
from zkrisk.engine.risk.metrics.var import portable_losses
from zkrisk.engine.risk.models import (
    Asset,
    CheckState,
    OrderIntent,
    Portfolio,
    Position,
    PricePoint,
    PriceSnapshot,
    Side,
    TradingState,
    price_point,
    price_snapshot,
)

from .risk_fixtures import ACCOUNT, ASSETS, SCENARIOS, policy

D = Decimal
NS = 1_000_000_000
T0 = 1_700_000_000 * NS
SYMBOLS = ("WETH", "WBTC", "LINK")


# -- price_snapshot ---------------------------------------------------------------------------


def outcome(build: Any) -> BaseModel | str:
    try:
        result: BaseModel = build()
        return result
    except (ValidationError, ValueError, TypeError) as exc:
        return f"{type(exc).__name__}: {exc}"


POINT = price_point(D("3000.5"), 1_700_000_000, 4)


@pytest.mark.parametrize("prices, snapshot_id, taken_at", [
    ({"WETH": POINT}, 3, 1_700_000_000), ({}, 0, 0), ({"WETH": POINT, "USDC": POINT}, 2**40, 5),
    ({"weth": POINT}, 1, 1), ({"": POINT}, 1, 1), ({"WETH": {"price": "1", "timestamp": 1,
    "round_id": 0}}, 1, 1), ({"WETH": POINT}, -1, 1), ({"WETH": POINT}, 2**64, 1),
    ({"WETH": POINT}, 1, -1), ({"WETH": POINT}, 1, 2**40), ({"WETH": POINT}, True, 1),
    ({"WETH": POINT}, 1, 1.0), ({5: POINT}, 1, 1), ([("WETH", POINT)], 1, 1)])  # fmt: skip
def test_a_price_snapshot_is_the_validated_one_or_the_same_refusal(
    prices: Any, snapshot_id: Any, taken_at: Any
) -> None:
    slow = outcome(lambda: PriceSnapshot(prices=prices, snapshot_id=snapshot_id,
                                         taken_at=taken_at))  # fmt: skip
    fast = outcome(lambda: price_snapshot(prices, snapshot_id, taken_at))
    if isinstance(slow, str):
        assert fast == slow
        return
    assert isinstance(fast, PriceSnapshot)
    assert fast == slow and type(fast) is type(slow)
    assert fast.__pydantic_fields_set__ == slow.__pydantic_fields_set__
    assert fast.__pydantic_private__ == slow.__pydantic_private__
    assert fast.model_dump_json() == slow.model_dump_json()
    if isinstance(prices, dict):  # a copy, as validation makes: the caller's dict stays its own
        assert fast.prices is not prices


# -- the paper book's check inputs ------------------------------------------------------------


def quote(symbol: str, bid: str, ask: str, seq: int = 1) -> Quote:
    return Quote(source="feed", symbol=symbol, bid=D(bid), ask=D(ask), bid_size=D(1),
                 ask_size=D(1), source_seq=seq)  # fmt: skip


def paper_fill(symbol: str, side: Side, quantity: Decimal, price: Decimal, owner: str) -> PaperFill:
    return PaperFill(client_order_id="f", strategy_id=owner, symbol=symbol, side=side,
                     quantity=quantity, price=price)  # fmt: skip


def inputs(book: PaperBook, now: int, times: tuple[int, ...] = ()) -> Any:
    return book.check_inputs(None, account=ACCOUNT, quote_symbol="USDC",  # type: ignore[arg-type]
                             trading_state=TradingState.ACTIVE, now=now,
                             recent_order_times=times)  # fmt: skip


def reference_inputs(
    book: PaperBook, now: int, times: tuple[int, ...] = ()
) -> tuple[Portfolio, PriceSnapshot, CheckState]:
    """What `check_inputs` stands for, built from scratch by the validating constructors."""
    step = Decimal(1).scaleb(-fp.PRICE_DECIMALS)
    prices = {s: PricePoint(price=m.price.quantize(step, ROUND_FLOOR),
                            timestamp=m.event_time_ns // NS, round_id=m.source_seq)
              for s, m in book.marks.items()}  # fmt: skip
    prices["USDC"] = PricePoint(price=D(1), timestamp=now, round_id=0)
    positions = [Position(symbol=s, quantity=q) for s in sorted({s for _, s in book.holdings})
                 if (q := book.net_position(s)) != 0]  # fmt: skip
    cash = DECIMAL.add(book.starting_equity, book.cash).quantize(
        Decimal(1).scaleb(-fp.QTY_DECIMALS), ROUND_FLOOR
    )
    if cash:
        positions.append(Position(symbol="USDC", quantity=cash))
    return (
        Portfolio(account=ACCOUNT, positions=tuple(positions)),
        PriceSnapshot(prices=prices, snapshot_id=book.position, taken_at=now),
        CheckState(trading_state=TradingState.ACTIVE, now=now, recent_order_times=times),
    )


def test_a_new_mark_replaces_the_reused_price() -> None:
    book = PaperBook(starting_equity=D(10_000))
    book.mark(quote("WETH", "1999", "2001"), T0)
    first = inputs(book, 1_700_000_000).prices.prices["WETH"]
    assert inputs(book, 1_700_000_000).prices.prices["WETH"] is first  # reused while it stands
    book.mark(quote("WETH", "2099", "2101", seq=2), T0 + NS)
    second = inputs(book, 1_700_000_001).prices
    assert second.prices["WETH"].price == D(2100)
    assert (second.prices["WETH"].timestamp, second.prices["WETH"].round_id) == (
        1_700_000_001, 2)  # fmt: skip
    assert second == reference_inputs(book, 1_700_000_001)[1]


def test_a_fill_rebuilds_the_reused_portfolio() -> None:
    book = PaperBook(starting_equity=D(10_000))
    book.mark(quote("WETH", "1999", "2001"), T0)
    before = inputs(book, 1_700_000_000).portfolio
    assert inputs(book, 1_700_000_000).portfolio is before
    book.fill(paper_fill("WETH", Side.BUY, D("1.5"), D(2001), "a"))
    after = inputs(book, 1_700_000_000).portfolio
    assert after.quantity_fixed("WETH") == 150_000_000
    assert after == reference_inputs(book, 1_700_000_000)[0]
    book.fill(paper_fill("WETH", Side.BUY, D("0.25"), D(2001), "a"))  # the same holding moves
    assert inputs(book, 1_700_000_000).portfolio.quantity_fixed("WETH") == 175_000_000
    book.fill(paper_fill("WETH", Side.SELL, D("0.5"), D(2001), "b"))  # a second owner
    assert inputs(book, 1_700_000_000).portfolio == reference_inputs(book, 1_700_000_000)[0]


# -- value_book against its version before the rewrite -----------------------------------


# A frozen copy of value_book as it was before it was rewritten for speed (the oracle).
def reference_value_book(
    portfolio: Portfolio,
    prices: PriceSnapshot,
    assets: Mapping[str, Asset],
    scenarios: ScenarioMatrix | None,
) -> BookView:
    legs: dict[str, Leg] = {}
    missing_assets: list[str] = []
    missing_prices: list[str] = []
    stamps: list[int] = []
    symbols = list(portfolio.quantities_fixed().items())
    # Margin matters only when there is some: an empty vault needs no margin-asset price.
    margin_symbol = portfolio.margin_symbol if portfolio.margin_fixed > 0 else None
    for symbol, quantity in symbols:
        asset = assets.get(symbol)
        point = prices.prices.get(symbol)
        if asset is None:
            missing_assets.append(symbol)
        if point is None:
            missing_prices.append(symbol)
        if asset is None or point is None:
            continue
        stamps.append(point.timestamp)
        legs[symbol] = Leg(symbol, quantity, point.price_fixed, asset.liquidation_threshold_bps)
    margin_weighted = 0
    margin_price = 0
    if margin_symbol is not None:
        asset = assets.get(margin_symbol)
        point = prices.prices.get(margin_symbol)
        if asset is None and margin_symbol not in missing_assets:
            missing_assets.append(margin_symbol)
        if point is None and margin_symbol not in missing_prices:
            missing_prices.append(margin_symbol)
        if asset is not None and point is not None:
            stamps.append(point.timestamp)
            margin_price = point.price_fixed
            margin_weighted = (
                portfolio.margin_fixed * margin_price * asset.liquidation_threshold_bps
            )
    long = short = weighted = debt = 0
    for leg in legs.values():
        n = leg.notional
        if n >= 0:
            long += n
            weighted += n * leg.lt_bps
        else:
            short -= n
            debt -= n
    top = sorted(((abs(leg.notional), s) for s, leg in legs.items()), reverse=True)[:3]
    abs_value = (long + short + portfolio.margin_fixed * margin_price) / fp.VALUE_SCALE
    losses: FloatArray | None = None
    missing_scen: tuple[str, ...] = ()
    if scenarios is not None:
        needed = [s for s, _ in symbols]
        if margin_symbol is not None:
            needed.append(margin_symbol)
        missing_scen = tuple(sorted({s for s in needed if s not in scenarios.column}))
        values = np.zeros(len(scenarios.column))
        for s, leg in legs.items():
            if s in scenarios.column:
                values[scenarios.column[s]] += leg.notional / fp.VALUE_SCALE
        if margin_symbol is not None and margin_symbol in scenarios.column:
            values[scenarios.column[margin_symbol]] += (
                portfolio.margin_fixed * margin_price / fp.VALUE_SCALE
            )
        losses = portable_losses(scenarios.returns, values)
    return BookView(
        legs=legs,
        missing_assets=tuple(missing_assets),
        missing_prices=tuple(missing_prices),
        margin_symbol=margin_symbol,
        margin=portfolio.margin_fixed if margin_symbol is not None else 0,
        margin_price=margin_price,
        margin_weighted=margin_weighted,
        weighted=weighted + margin_weighted,
        debt=debt,
        long=long,
        short=short,
        top_abs_notional=tuple(top),
        oldest_price=min(stamps, default=0),
        newest_price=max(stamps, default=0),
        losses=losses,
        missing_scenarios=missing_scen,
        abs_value_usd=abs_value,
    )


class ReferenceEngine(RiskEngine):
    """The gate valuing each book afresh with the reference `value_book`, never cached."""

    def view(self, portfolio: Portfolio, prices: PriceSnapshot) -> BookView:
        return reference_value_book(portfolio, prices, self.assets, self._matrix)


def same_view(a: BookView, b: BookView) -> None:
    assert a._replace(losses=None) == b._replace(losses=None)
    assert (a.losses is None) == (b.losses is None)
    if a.losses is not None and b.losses is not None:
        assert a.losses.tobytes() == b.losses.tobytes()  # bit for bit


ops = st.lists(
    st.one_of(
        st.tuples(st.just("mark"), st.sampled_from(SYMBOLS), st.integers(1, 300_000),
                  st.integers(1, 500), st.integers(0, 120)),
        st.tuples(st.just("fill"), st.sampled_from(SYMBOLS), st.sampled_from(list(Side)),
                  st.integers(1, 500_000), st.sampled_from(("a", "b"))),
        st.tuples(st.just("check"), st.sampled_from((*SYMBOLS, "USDC")), st.sampled_from(list(Side)),
                  st.integers(1, 500_000), st.integers(-60, 60), st.integers(0, 30)),
    ),
    min_size=1,
    max_size=30,
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops, st.integers(1, 20_000_000), st.booleans())
def test_the_gate_on_the_paper_book_decides_as_the_reference_path(
    steps: list[tuple[Any, ...]], var_limit: int, es: bool
) -> None:
    """Random books, marks and intents: the verdict on the fast inputs with a warm engine equals,
    byte for byte, the verdict on inputs built from scratch by a fresh reference engine."""
    limits: dict[str, Any] = {"max_var_usd": D(var_limit) / 100, "max_orders_per_window": 3,
                              "max_gross_exposure_usd": D(2_000_000),
                              "review_order_notional_usd": D(50_000),
                              "review_health_factor_bps": 20_000}  # fmt: skip
    if es:
        limits["max_es_usd"] = D(var_limit) / 80
    fast_engine = RiskEngine(policy(**limits), ASSETS, SCENARIOS)
    book = PaperBook(starting_equity=D(100_000))
    t = T0
    for symbol, price in (("WETH", "2000"), ("WBTC", "60000"), ("LINK", "10")):
        book.mark(quote(symbol, price, str(D(price) + 1), seq=0), T0)
    for i, step in enumerate(steps):
        kind = step[0]
        book.position += 1
        if kind == "mark":
            _, symbol, cents, spread, dt = step
            t += dt * NS
            bid = book.marks[symbol].price * (D(1) + D(cents - 150_000) / 3_000_000)
            bid = bid.quantize(D("0.001"))
            book.mark(quote(symbol, str(bid), str(bid + D(spread) / 1000), seq=i), t)
        elif kind == "fill":
            _, symbol, side, size, owner = step
            mark = book.marks.get(symbol)
            book.fill(paper_fill(symbol, side, D(size) / 10_000,
                                 mark.price if mark else D(7), owner))  # fmt: skip
        else:
            _, symbol, side, size, bps, recent = step
            now = t // NS + step[5] % 7
            times = tuple(now - k for k in range(recent % 5))
            mark = book.marks.get(symbol)
            ref_price = mark.price if mark else D(2000)
            limit = (ref_price * (10_000 + bps) / 10_000).quantize(D("0.01"), ROUND_FLOOR)
            intent = OrderIntent(client_order_id=f"c-{i}", symbol=symbol, side=side,
                                 quantity=D(size) / 10_000, limit_price=max(limit, D("0.01")),
                                 counterparty="venue-a")  # fmt: skip
            fast = fast_engine.check(intent, *inputs(book, now, times))
            reference = ReferenceEngine(fast_engine.policy, ASSETS, SCENARIOS)
            ref_inputs = reference_inputs(book, now, times)
            slow = reference.check(intent, *ref_inputs)
            assert fast.model_dump_json() == slow.model_dump_json()
            same_view(fast_engine.view(*inputs(book, now)[:2]),
                      reference.view(*ref_inputs[:2]))  # fmt: skip


def test_value_book_matches_the_reference_on_missing_data_and_margin() -> None:
    matrix = ScenarioMatrix(returns=np.asfortranarray([[0.1, -0.2], [0.0, 0.3]]),
                            returns_fixed=((100_000, -200_000), (0, 300_000)),
                            column={"WETH": 0, "USDC": 1}, max_abs_return=0.3)  # fmt: skip
    assets = {a.symbol: a for a in ASSETS if a.symbol != "LINK"}
    point = price_point(D(2000), 1_700_000_000, 1)
    books = [
        Portfolio(account=ACCOUNT, positions=(Position(symbol="WETH", quantity=D(2)),
                  Position(symbol="LINK", quantity=D(-3)), Position(symbol="WBTC", quantity=D(1))),
                  margin=D(5), margin_symbol="USDC"),
        Portfolio(account=ACCOUNT, positions=(Position(symbol="WETH", quantity=D("-0.5")),),
                  margin=D(5), margin_symbol="WETH"),
        Portfolio(account=ACCOUNT, margin=D(5), margin_symbol="DOGE"),
        Portfolio(account=ACCOUNT),
    ]  # fmt: skip
    for portfolio in books:
        for prices in ({"WETH": point, "USDC": point}, {"WETH": point}, {}):
            snapshot = price_snapshot(prices, 1, 1_700_000_000)
            for scenarios in (matrix, None):
                same_view(value_book(portfolio, snapshot, assets, scenarios),
                          reference_value_book(portfolio, snapshot, assets, scenarios))  # fmt: skip
