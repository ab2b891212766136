"""PortfolioMargin(4, 8): requirement edges, a forged maximum, the public arrays, aliasing."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from zkrisk.engine.chain.margin_verifier import margin_layout, vault_form
from zkrisk.engine.risk.fixed_point import QTY_BITS
from zkrisk.engine.statements.portfolio_margin import (
    ARRAY_OFFSET,
    PortfolioMarginStatement,
    array_words,
)
from zkrisk.prover.field import SNARK_SCALAR_FIELD as P
from zkrisk.prover.folded_verifier import check_entries
from zkrisk.prover.hashing import poseidon_chain
from zkrisk.prover.poseidon import poseidon

from .conftest import Checkers
from .margin_cases import CIRCUIT, COIN, SCENARIOS, USD, at_requirement, statement


def agree(circuits: Checkers, s: PortfolioMarginStatement) -> bool:
    """The circuit's verdict, after asserting it is the engine's."""
    result = circuits[CIRCUIT].check(s.signals())
    assert result.accepted is s.holds(), result.error
    if result.accepted:
        assert result.public == s.public_signals()
    return result.accepted


def forged_pick(s: PortfolioMarginStatement, candidate: int) -> dict[str, Any]:
    signals: dict[str, Any] = s.signals()
    signals["pick"] = [int(j == candidate) for j in range(SCENARIOS + 2)]
    return signals


@pytest.mark.parametrize(("offset", "holds"), [(-1, False), (0, True), (1, True)])
def test_margin_held_at_the_requirement_edges_matches_the_engine(
    circuits: Checkers, offset: int, holds: bool
) -> None:
    base = statement()
    assert base.requirement() > base.margin().short_option_minimum > 0
    assert agree(circuits, at_requirement(base, offset)) is holds


@pytest.mark.parametrize(("offset", "holds"), [(-1, False), (0, True), (1, True)])
def test_short_option_minimum_edges_when_it_is_the_requirement(
    circuits: Checkers, offset: int, holds: bool
) -> None:
    # One short call with a large minimum: SOM exceeds every scenario loss.
    s = statement(long=(0, 0, 0, 0), short=(0, COIN, 0, 0), minimums=(0, 50_000 * USD, 0, 0))
    assert s.requirement() == s.margin().short_option_minimum > s.margin().scan_risk
    assert agree(circuits, at_requirement(s, offset)) is holds


def test_a_book_that_gains_everywhere_needs_no_margin(circuits: Checkers) -> None:
    s = statement(long=(0, 0, 0, 0), short=(0, 0, 0, 0), margin_held=0)
    assert s.requirement() == 0
    assert agree(circuits, s)


def test_long_perp_offsets_the_short_call_in_the_proof(circuits: Checkers) -> None:
    hedged = statement(long=(COIN, 0, 0, 0), short=(0, COIN, 0, 0), minimums=(0, 0, 0, 0))
    naked = statement(long=(0, 0, 0, 0), short=(0, COIN, 0, 0), minimums=(0, 0, 0, 0))
    perp = statement(long=(COIN, 0, 0, 0), short=(0, 0, 0, 0), minimums=(0, 0, 0, 0))
    assert hedged.requirement() < naked.requirement() + perp.requirement()
    assert agree(circuits, at_requirement(hedged))
    assert not agree(circuits, at_requirement(hedged, -1))


def test_a_forged_maximum_is_rejected_even_when_the_margin_covers_it(
    circuits: Checkers,
) -> None:
    s = statement()
    true_pick = s.margin().argmax()
    values = s.margin().candidates()
    smaller = min(range(len(values)), key=lambda j: values[j])
    assert values[smaller] < values[true_pick]
    # margin held between the forged and the true requirement: only a forged max would pass
    between = replace(s, margin_held=max(values[smaller], 0) + 1)
    assert not circuits[CIRCUIT].accepts(forged_pick(between, smaller))
    # and with ample margin the forged pick is still refused: every candidate ≤ the pick
    ample = replace(s, margin_held=10 * s.requirement())
    assert circuits[CIRCUIT].accepts(ample.signals())
    assert not circuits[CIRCUIT].accepts(forged_pick(ample, smaller))


def test_ties_accept_any_maximal_candidate(circuits: Checkers) -> None:
    # A flat book: every candidate is 0, any single pick is a maximum.
    s = statement(long=(0, 0, 0, 0), short=(0, 0, 0, 0), margin_held=0)
    for j in (0, 1, 5, SCENARIOS + 1):
        assert circuits[CIRCUIT].accepts(forged_pick(s, j))


@pytest.mark.parametrize(
    "pick",
    [
        "none",  # no candidate picked: requirement 0 would understate
        "two",  # the true max and another
        "double",  # pick 2 on a candidate of half the requirement
        "negative",  # pick = p − 1 on one candidate and 2 on the max: sums to 1
    ],
)
def test_a_pick_that_is_not_one_hot_is_rejected(circuits: Checkers, pick: str) -> None:
    s = replace(statement(), margin_held=10 * statement().requirement())
    signals: dict[str, Any] = s.signals()
    best = s.margin().argmax()
    other = (best + 1) % (SCENARIOS + 2)
    values = [0] * (SCENARIOS + 2)
    if pick == "two":
        values[best] = values[other] = 1
    elif pick == "double":
        values[other] = 2
    elif pick == "negative":
        values[best], values[other] = 2, P - 1
    signals["pick"] = values
    assert not circuits[CIRCUIT].accepts(signals)


def test_tampered_commitment_is_rejected(circuits: Checkers) -> None:
    signals: dict[str, Any] = statement().signals()
    signals["commitment"] += 1
    assert not circuits[CIRCUIT].accepts(signals)


def test_friendlier_arrays_are_another_statement_with_other_public_signals(
    circuits: Checkers,
) -> None:
    # The perp never loses: the book is covered with less margin, but the proof then carries
    # the friendly arrays, which no verifier of the published ones accepts (vault: another key).
    s = at_requirement(statement(), -1)
    assert not agree(circuits, s)
    signals: dict[str, Any] = s.signals()
    signals["riskArrays"] = [[row[0], *(max(u, ARRAY_OFFSET) for u in row[1:])]
                             for row in signals["riskArrays"]]  # fmt: skip
    signals["pick"] = [0, 1] + [0] * SCENARIOS  # SOM is all that is left
    result = circuits[CIRCUIT].check(signals)
    assert result.accepted, result.error
    assert result.public != s.public_signals()
    assert vault_form(result.public)[1] != vault_form(s.public_signals())[1]


def test_a_lowered_minimum_is_another_statement_with_other_public_signals(
    circuits: Checkers,
) -> None:
    s = statement(long=(0, 0, 0, 0), short=(0, COIN, 0, 0), minimums=(0, 50_000 * USD, 0, 0))
    short = at_requirement(s, -1)
    assert not agree(circuits, short)  # the published minimum: refused
    lowered = replace(short, minimums=(0, 0, 0, 0))
    assert agree(circuits, lowered)  # covered without it, but proven over other arrays
    assert vault_form(lowered.public_signals())[1] != vault_form(short.public_signals())[1]


def test_the_arrays_key_binds_the_order_of_rows() -> None:
    arrays, minimums = ((1, 2), (3, 4)), (0, 0)
    swapped = vault_form((0, 0, 0, *array_words(((3, 4), (1, 2)), minimums)))
    assert vault_form((0, 0, 0, *array_words(arrays, minimums))) != swapped


@pytest.mark.parametrize(
    ("index", "value", "ok"),
    [(0, (1 << 63) - 1, True), (0, 1 << 63, False), (1, (1 << 64) - 1, True), (1, 1 << 64, False),
     (9, 1 << 63, False), (1, P - 1, False)],
)  # fmt: skip
def test_entries_the_circuit_cannot_take_are_refused_before_they_reach_a_verifier(
    index: int, value: int, ok: bool
) -> None:
    # The folded verifier's rule (FoldedVerifier__EntryOutOfRange), checked in Python too:
    # minimums (column 0 of each row of S + 1) < 2^63, offset P&L entries < 2^64.
    entries = array_words(statement().arrays, statement().minimums)
    entries[index] = value
    if ok:
        check_entries(entries, margin_layout(SCENARIOS))
    else:
        with pytest.raises(ValueError, match=f"folded entry {index} "):
            check_entries(entries, margin_layout(SCENARIOS))


@pytest.mark.parametrize(
    ("signal", "value"),
    [
        ("long", 1 << 80),
        ("long", P - 1),
        ("short", P - 1),
        ("short", (1 << 80) + 1),
    ],
)
def test_out_of_range_or_aliased_position_is_rejected(
    circuits: Checkers, signal: str, value: int
) -> None:
    signals: dict[str, Any] = replace(statement(), margin_held=1 << 140).signals()
    signals[signal] = [value, *signals[signal][1:]]
    # The commitment opens the tampered book, so only the range checks stand in the way.
    packed = [
        (lg + sh * (1 << QTY_BITS)) % P
        for lg, sh in zip(signals["long"], signals["short"], strict=False)
    ]
    signals["commitment"] = poseidon_chain(poseidon([signals["account"], signals["salt"]]), packed)
    assert not circuits[CIRCUIT].accepts(signals)


@pytest.mark.parametrize("value", [1 << 144, P - 1, P - (1 << 140)])
def test_out_of_range_or_aliased_margin_held_is_rejected(circuits: Checkers, value: int) -> None:
    signals: dict[str, Any] = statement().signals()
    signals["marginHeld"] = value
    assert not circuits[CIRCUIT].accepts(signals)


@pytest.mark.parametrize("value", [1 << 252, P - 1])
def test_out_of_range_binding_is_rejected(circuits: Checkers, value: int) -> None:
    signals: dict[str, Any] = statement().signals()
    signals["binding"] = value
    assert not circuits[CIRCUIT].accepts(signals)


@pytest.mark.parametrize(("offset", "holds"), [(-1, False), (0, True)])
def test_widest_in_range_position_and_entries_match_the_engine_at_the_edge(
    circuits: Checkers, offset: int, holds: bool
) -> None:
    top_q, top_a = (1 << 80) - 1, (1 << 63) - 1
    arrays = tuple(tuple((-top_a if s % 2 else top_a) for s in range(SCENARIOS))
                   for _ in range(4))  # fmt: skip
    s = statement(long=(top_q, 0, 0, 0), short=(0, 0, 0, 0), minimums=(top_a,) * 4,
                  arrays=arrays)  # fmt: skip
    assert s.requirement() == top_q * top_a
    assert agree(circuits, at_requirement(s, offset)) is holds


def test_margin_held_past_value_bits_is_refused_by_the_builder() -> None:
    s = statement()
    with pytest.raises(ValueError, match="margin held"):
        replace(s, margin_held=1 << 144)


def test_the_example_files_build_the_statement_zkrisk_margin_reports() -> None:
    from tests.conftest import REPO
    from zkrisk.engine.files import load_model, load_portfolio
    from zkrisk.engine.risk.margin.arrays import RiskArraySet
    from zkrisk.engine.statements.portfolio_margin import portfolio_margin_statement

    arrays = load_model(REPO / "examples" / "risk-arrays.toml", RiskArraySet)
    book = load_portfolio(REPO / "examples" / "margin-book.toml")
    symbols = ["BTC-PERP", "BTC-C95K", "ETH-PERP"]
    s = portfolio_margin_statement(book, arrays, symbols, slots=4, salt=7, binding=1)
    assert s.scenarios == 16
    assert s.requirement() == arrays.requirement(book.quantities_fixed()).requirement
    assert s.holds()
    assert s.margin_held == 30_000 * 10**16
    with pytest.raises(ValueError, match="without a slot: ETH-PERP"):
        portfolio_margin_statement(book, arrays, symbols[:2], slots=4, salt=7, binding=1)
