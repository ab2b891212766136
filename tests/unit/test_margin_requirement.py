"""SPAN requirement: engine integers against a brute-force Decimal scenario sum, monotonicity in
|q|, cross-margin offsets and the short-option minimum."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkrisk.engine.risk import fixed_point as fp
from zkrisk.engine.risk.margin.requirement import (
    ARRAY_BITS,
    margin_requirement,
    requirement_bits,
    scenario_losses,
    usd,
)

COIN = fp.QTY_SCALE
USD = fp.PRICE_SCALE

quantity = st.integers(-(1 << 79), 1 << 79) | st.integers(-1_000 * COIN, 1_000 * COIN)
entry = st.integers(-(1 << ARRAY_BITS) + 1, (1 << ARRAY_BITS) - 1) | st.integers(
    -100_000 * USD, 100_000 * USD
)


@st.composite
def books(draw: st.DrawFn) -> tuple[list[int], list[list[int]], list[int]]:
    n, s = draw(st.integers(1, 6)), draw(st.integers(1, 8))
    qs = [draw(quantity) for _ in range(n)]
    arrays = [[draw(entry) for _ in range(s)] for _ in range(n)]
    soms = [draw(st.integers(0, (1 << ARRAY_BITS) - 1) | st.just(0)) for _ in range(n)]
    return qs, arrays, soms


def brute_force_usd(qs: list[int], arrays: list[list[int]], soms: list[int]) -> Decimal:
    """The definition, scenario by scenario, in exact decimal USD (an independent path)."""
    qty = [fp.from_fixed(q, fp.QTY_DECIMALS) for q in qs]
    worst = Decimal(0)
    for s in range(len(arrays[0])):
        total = sum((-q * fp.from_fixed(a[s], fp.PRICE_DECIMALS) for q, a in zip(qty, arrays, strict=False)),
                    Decimal(0))  # fmt: skip
        worst = max(worst, total)
    som = sum((max(-q, Decimal(0)) * fp.from_fixed(m, fp.PRICE_DECIMALS)
               for q, m in zip(qty, soms, strict=False)), Decimal(0))  # fmt: skip
    return max(worst, som)


@settings(max_examples=500, deadline=None)
@given(books())
def test_requirement_equals_the_brute_force_scenario_sum(
    book: tuple[list[int], list[list[int]], list[int]],
) -> None:
    qs, arrays, soms = book
    result = margin_requirement(qs, arrays, soms)
    with localcontext() as ctx:
        ctx.prec = 200
        assert usd(result.requirement) == brute_force_usd(qs, arrays, soms)
    assert result.requirement < 1 << requirement_bits(len(qs))


@settings(max_examples=300, deadline=None)
@given(st.lists(entry, min_size=1, max_size=8), st.integers(0, 1 << 62), quantity, quantity)
def test_requirement_of_one_position_is_monotone_in_its_size(
    array: list[int], som: int, a: int, b: int
) -> None:
    small, large = sorted((abs(a), abs(b)))
    for sign in (1, -1):
        lo = margin_requirement([sign * small], [array], [som]).requirement
        hi = margin_requirement([sign * large], [array], [som]).requirement
        assert lo <= hi


def test_a_long_perp_offsets_a_short_call() -> None:
    perp = [0, 3_000 * USD, -3_000 * USD]  # price same, up, down
    call = [0, 1_800 * USD, -600 * USD]
    alone = margin_requirement([-COIN], [call], [0]).requirement
    hedged = margin_requirement([COIN, -COIN], [perp, call], [0, 0]).requirement
    assert alone == 1_800 * USD * COIN
    assert hedged == (3_000 - 600) * USD * COIN  # the down move: perp −3,000, call +600
    assert hedged < alone + margin_requirement([COIN], [perp], [0]).requirement


def test_short_option_minimum_applies_when_scenarios_show_no_loss() -> None:
    deep_otm_call = [0, 0, 0]
    result = margin_requirement([-3 * COIN], [deep_otm_call], [900 * USD])
    assert result.scan_risk == 0
    assert result.requirement == result.short_option_minimum == 3 * 900 * USD * COIN


def test_short_option_minimum_is_not_charged_to_long_positions() -> None:
    assert margin_requirement([3 * COIN], [[0, -5 * USD]], [900 * USD]).short_option_minimum == 0


def test_requirement_is_the_larger_of_scan_risk_and_the_minimum_not_their_sum() -> None:
    result = margin_requirement([-COIN], [[1_000 * USD]], [900 * USD])
    assert result.requirement == 1_000 * USD * COIN


def test_a_book_that_gains_in_every_scenario_requires_nothing() -> None:
    result = margin_requirement([COIN], [[5 * USD, 1 * USD]], [0])
    assert result.requirement == 0
    assert result.argmax() == 0  # the zero floor is the picked candidate


def test_losses_are_the_negated_pnl_sum() -> None:
    assert scenario_losses([2, -1], [[10, -4], [3, 5]]) == [-17, 13]


@pytest.mark.parametrize("bad", [1 << ARRAY_BITS, -(1 << ARRAY_BITS)])
def test_an_array_entry_past_64_bits_is_refused(bad: int) -> None:
    with pytest.raises(ValueError, match=r"≥ 2\^63"):
        margin_requirement([1], [[bad]], [0])


def test_a_negative_short_option_minimum_is_refused() -> None:
    with pytest.raises(ValueError, match="short-option minimums"):
        margin_requirement([1], [[0]], [-1])


def test_ragged_arrays_are_refused() -> None:
    with pytest.raises(ValueError, match="same non-zero number of scenarios"):
        scenario_losses([1, 1], [[0, 1], [0]])


def test_float_view_is_usd_for_display() -> None:
    view = margin_requirement([COIN], [[-1_234_567_890]], [0]).float_view()
    assert view == {"losses": [12.3456789], "scan_risk": 12.3456789,
                    "short_option_minimum": 0.0, "requirement": 12.3456789}  # fmt: skip
