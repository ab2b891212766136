"""Limits(4): the circuit accepts exactly what the engine accepts, at every edge (witnesses)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from zkrisk.engine.statements.limits import LimitParams, LimitsStatement
from zkrisk.prover.field import SNARK_SCALAR_FIELD as P

from .conftest import Checkers
from .statement_cases import BOOK, PERMISSIVE, PRICES, VALUE, base_limits

CIRCUIT = "limits4"


def agree(circuits: Checkers, statement: LimitsStatement) -> bool:
    """The circuit's verdict, after asserting it is the engine's."""
    result = circuits[CIRCUIT].check(statement.signals())
    assert result.accepted is statement.holds(), (statement.breaches(), result.error)
    if result.accepted:
        assert result.public == statement.public_signals()
    return result.accepted


def with_params(**changes: Any) -> LimitsStatement:
    return base_limits(params=replace(PERMISSIVE, **changes))


@pytest.mark.parametrize(("offset", "holds"), [(-1, False), (0, True), (1, True)])
def test_notional_cap_at_threshold_edges_matches_the_engine(
    circuits: Checkers, offset: int, holds: bool
) -> None:
    eth_notional = 6_000 * VALUE
    caps = (PERMISSIVE.notional_cap[0], eth_notional + offset, *PERMISSIVE.notional_cap[2:])
    assert agree(circuits, with_params(notional_cap=caps)) is holds


@pytest.mark.parametrize(("offset", "holds"), [(-1, False), (0, True), (1, True)])
def test_concentration_at_threshold_edges_matches_the_engine(
    circuits: Checkers, offset: int, holds: bool
) -> None:
    # 1 ETH at 3,000 and 3 USD... pick a book whose largest share is exactly 5,000 bps.
    book = replace(BOOK, long=(3_000 * 10**8, 10**8, 0, 0), short=(0, 0, 0, 0))
    statement = replace(with_params(concentration_bps=5_000 + offset), book=book)
    assert agree(circuits, statement) is holds


@pytest.mark.parametrize(("offset", "holds"), [(-1, False), (0, True), (1, True)])
def test_leverage_at_threshold_edges_matches_the_engine(
    circuits: Checkers, offset: int, holds: bool
) -> None:
    # margin 300: equity 1,300, gross 13,000 — leverage exactly 10× = 100,000 bps.
    view = replace(base_limits(), margin=300 * 10**8).view()
    exact, remainder = divmod(view.gross * 10_000, view.equity)
    assert (exact, remainder) == (100_000, 0)
    statement = replace(with_params(leverage_bps=exact + offset), margin=300 * 10**8)
    assert agree(circuits, statement) is holds


def test_flat_book_without_margin_keeps_every_limit(circuits: Checkers) -> None:
    flat = replace(BOOK, long=(0, 0, 0, 0), short=(0, 0, 0, 0))
    statement = replace(with_params(concentration_bps=1, leverage_bps=0), book=flat, margin=0)
    assert agree(circuits, statement)


def test_short_book_with_negative_equity_breaks_leverage(circuits: Checkers) -> None:
    short_only = replace(BOOK, long=(0, 0, 0, 0), short=(0, 10**8, 0, 0))
    statement = replace(base_limits(), book=short_only, margin=0)
    assert statement.view().equity < 0
    assert not agree(circuits, statement)


def test_maximum_widths_are_accepted(circuits: Checkers) -> None:
    top_qty, top_price = (1 << 80) - 1, (1 << 64) - 1
    book = replace(BOOK, long=(top_qty, 0, 0, 0), short=(0, 0, 0, 0))
    statement = LimitsStatement(
        book=book,
        margin=top_qty,
        price=(top_price, 1, 1, 1),
        params=LimitParams(((1 << 144) - 1,) * 4, concentration_bps=10_000, leverage_bps=10_000),
    )
    assert agree(circuits, statement)


@pytest.mark.parametrize(
    ("signal", "index", "value"),
    [
        ("long", 1, 1 << 80),
        ("short", 2, 1 << 80),
        ("price", 1, 1 << 64),
        ("margin", None, 1 << 80),
        ("account", None, 1 << 160),
        ("long", 1, P - 1),
        ("short", 2, P - 1),
        ("price", 1, P - 1),
        ("margin", None, P - 1),
        ("account", None, P - 1),
    ],
)
def test_out_of_range_or_aliased_input_is_rejected(
    circuits: Checkers, signal: str, index: int | None, value: int
) -> None:
    signals: dict[str, Any] = base_limits().signals()
    if index is None:
        signals[signal] = value
    else:
        signals[signal] = [*signals[signal][:index], value, *signals[signal][index + 1 :]]
    result = circuits[CIRCUIT].check(signals)
    assert not result.accepted
    assert "Assert Failed" in result.error


def test_value_plus_p_is_the_same_statement_not_a_new_one(circuits: Checkers) -> None:
    # The witness calculator reduces inputs mod p: p + x is x, so aliasing upwards cannot
    # produce a second accepted book; only the reduced value is ever proven.
    statement = base_limits()
    signals: dict[str, Any] = statement.signals()
    signals["long"] = [signals["long"][0] + P, *signals["long"][1:]]
    result = circuits[CIRCUIT].check(signals)
    assert result.accepted
    assert result.public == statement.public_signals()


def test_long_and_short_in_one_slot_is_rejected(circuits: Checkers) -> None:
    # Two encodings of one net position would give one book two commitments.
    both = replace(BOOK, long=(1_000 * 10**8, 2 * 10**8, 0, 0), short=(0, 10**8, 10**7, 0))
    signals = replace(base_limits(), book=both).signals()
    assert not circuits[CIRCUIT].accepts(signals)


def test_tampered_commitment_is_rejected(circuits: Checkers) -> None:
    signals: dict[str, Any] = base_limits().signals()
    signals["commitment"] += 1
    assert not circuits[CIRCUIT].accepts(signals)


def test_prices_other_than_the_public_ones_change_the_statement(circuits: Checkers) -> None:
    # A book that breaks its ETH cap at 3,000 cannot pass by claiming a lower public price
    # while the verifier's price stays 3,000: the verifier's public signals differ.
    caps = (VALUE * 10**9, 5_000 * VALUE, VALUE * 10**9, VALUE)
    statement = with_params(notional_cap=caps, leverage_bps=1_000_000)
    assert not agree(circuits, statement)
    cheaper = replace(statement, price=(PRICES[0], 2_500 * 10**8, *PRICES[2:]))
    assert agree(circuits, cheaper)
    assert cheaper.public_signals() != statement.public_signals()
