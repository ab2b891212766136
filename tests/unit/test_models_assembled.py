"""The hot-path constructors (`book_position`, `book_portfolio`, `price_point`, `limit_intent`) build
what the validating constructors build, and refuse, through them, what they refuse."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from zkrisk.engine.risk.models import (
    OrderIntent,
    Portfolio,
    Position,
    PricePoint,
    Side,
    book_portfolio,
    book_position,
    limit_intent,
    price_point,
)

from .risk_fixtures import ACCOUNT

D = Decimal


def same(fast: BaseModel, slow: BaseModel) -> None:
    assert fast == slow and type(fast) is type(slow)
    assert fast.__pydantic_fields_set__ == slow.__pydantic_fields_set__
    assert fast.__pydantic_private__ == slow.__pydantic_private__
    assert fast.model_dump_json() == slow.model_dump_json()


def outcome(build: Any, *args: object) -> BaseModel | str:
    try:
        result: BaseModel = build(*args)
        return result
    except (ValidationError, ValueError, TypeError) as exc:
        return f"{type(exc).__name__}: {exc}"


POSITIONS = [("WETH", D("0.51")), ("USDC", D("998000.12")), ("WBTC", D("-3")), ("A.B-C_1", D(0)),
             ("WETH", D("1.000000000")), ("weth", D(1)), ("WETH\n", D(1)), ("", D(1)),
             ("W" * 33, D(1)), ("WETH", D("0.123456789")), ("WETH", D("1E+30")), ("WETH", D("NaN")),
             ("WETH", 1.5), ("WETH", "2"), ("WETH", 3), ("WETH", True)]  # fmt: skip


@pytest.mark.parametrize("symbol, quantity", POSITIONS)
def test_a_book_position_is_the_validated_one_or_the_same_refusal(
    symbol: str, quantity: Any
) -> None:
    slow = outcome(lambda: Position(symbol=symbol, quantity=quantity))
    fast = outcome(book_position, symbol, quantity)
    if isinstance(slow, str):
        assert fast == slow
    else:
        assert isinstance(fast, BaseModel)
        same(fast, slow)


@pytest.mark.parametrize("account", [ACCOUNT, ACCOUNT.upper().replace("0X", "0x"), ACCOUNT + "\n",
                                     "0x12", 5])  # fmt: skip
def test_a_book_portfolio_is_the_validated_one_or_the_same_refusal(account: Any) -> None:
    weth, usdc = Position(symbol="WETH", quantity=D("2")), Position(symbol="USDC", quantity=D(7))
    for positions in [(), (weth,), (weth, usdc), (weth, weth), tuple(
        Position(symbol=f"S{i}", quantity=D(1)) for i in range(65)
    )]:  # fmt: skip
        slow = outcome(lambda p=positions: Portfolio(account=account, positions=p))
        fast = outcome(book_portfolio, account, positions)
        if isinstance(slow, str):
            assert fast == slow
        else:
            assert isinstance(fast, Portfolio)
            same(fast, slow)
            assert fast.quantities_fixed() == slow.quantities_fixed()
            assert fast.margin_fixed == slow.margin_fixed == 0


@pytest.mark.parametrize("price, timestamp, round_id", [
    (D("3000.15"), 1_767_225_600, 3), (D(1), 0, 0), (D("0.000000001"), 1, 1), (D(0), 1, 1),
    (D(-1), 1, 1), (D("1E+20"), 1, 1), (D(1), -1, 0), (D(1), 2**40, 0), (D(1), 1, -1),
    (D(1), 1, 2**80), (D(1), True, 0), (1.5, 1, 1), ("2", 1, 1), (D(1), 1.0, 1),
    (D("NaN"), 1, 1), (D("-Infinity"), 1, 1), (D("sNaN"), 1, 1)])  # fmt: skip
def test_a_price_point_is_the_validated_one_or_the_same_refusal(
    price: Any, timestamp: Any, round_id: Any
) -> None:
    slow = outcome(lambda: PricePoint(price=price, timestamp=timestamp, round_id=round_id))
    fast = outcome(price_point, price, timestamp, round_id)
    if isinstance(slow, str):
        assert fast == slow
    else:
        assert isinstance(fast, PricePoint)
        same(fast, slow)
        assert fast.price_fixed == slow.price_fixed


COID = "asker-0123456789abcdef0123"
INTENTS = [(COID, "WETH", Side.BUY, D("0.01"), D("3000.2"), "paper", "asker"),
           (COID, "WBTC", Side.SELL, D("5"), D("60000"), "simex", ""),
           ("", "WETH", Side.BUY, D(1), D(1), "paper", "s"), ("x" * 65, "WETH", Side.BUY, D(1), D(1), "p", "s"),
           (COID, "weth", Side.BUY, D(1), D(1), "p", "s"), (COID, "WETH", "BUY", D(1), D(1), "p", "s"),
           (COID, "WETH", Side.BUY, D(0), D(1), "p", "s"), (COID, "WETH", Side.BUY, D(1), D(0), "p", "s"),
           (COID, "WETH", Side.BUY, D("0.123456789"), D(1), "p", "s"),
           (COID, "WETH", Side.BUY, D(1), D("0.123456789"), "p", "s"),
           (COID, "WETH", Side.BUY, D("1E+30"), D(1), "p", "s"), (COID, "WETH", Side.BUY, 1, D(1), "p", "s"),
           (COID, "WETH", Side.BUY, D(1), 2.5, "p", "s"), (COID, "WETH", Side.BUY, D(1), D(1), "", "s"),
           (COID, "WETH", Side.BUY, D(1), D(1), "p", 7), (COID, "WETH", Side.BUY, D("NaN"), D(1), "p", "s"),
           (COID, "WETH", Side.BUY, D(1), D("Infinity"), "p", "s")]  # fmt: skip


@pytest.mark.parametrize("args", INTENTS)
def test_a_limit_intent_is_the_validated_one_or_the_same_refusal(args: tuple[Any, ...]) -> None:
    names = ("client_order_id", "symbol", "side", "quantity", "limit_price", "counterparty",
             "strategy_id")  # fmt: skip
    slow = outcome(lambda: OrderIntent(**dict(zip(names, args, strict=True))))
    fast = outcome(limit_intent, *args)
    if isinstance(slow, str):
        assert fast == slow
    else:
        assert isinstance(fast, OrderIntent)
        same(fast, slow)
        assert (fast.quantity_fixed, fast.limit_price_fixed, fast.signed_quantity_fixed) == (
            slow.quantity_fixed, slow.limit_price_fixed, slow.signed_quantity_fixed)  # fmt: skip
