"""The request reader on its own: nesting depth, number bounds, NaN, and where each problem is."""

from __future__ import annotations

import sys
from decimal import Decimal

import pytest

from zkrisk.engine.api.wire import (
    MAX_EXPONENT,
    RECURSION_LIMIT,
    WireError,
    nests_deeper_than,
    read_json,
    restore_recursion_limit,
)

QUANTITY = (("order", "quantity"),)


@pytest.mark.parametrize(
    ("body", "depth"),
    [(b'{"order": {"quantity": 1}}', 2), (b"[[1], [[2]], {}]", 3), (b"[]" * 5000, 1),
     (b'{"a": "[[[[[[[[[[[[[[[[[[[[", "b": [[1]]}', 3), (b'[{"a": [{"b": [[1]]}]}]', 6),
     (b'"\\\\"[[[1]]]', 3), (b'[{' * 3 + b'"a": 1' + b'}]' * 3, 6)],
)  # fmt: skip
def test_nesting_is_measured_level_by_level_ignoring_brackets_inside_strings(
    body: bytes, depth: int
) -> None:
    assert nests_deeper_than(body, limit=depth - 1)
    assert not nests_deeper_than(body, limit=depth)


@pytest.mark.parametrize("body", [b"[" * 100_000, b"[" * 50 + b"]" * 50, b"[{" * 5 + b"}]" * 5])
def test_nesting_deeper_than_the_limit_is_reported_above_it(body: bytes) -> None:
    assert nests_deeper_than(body, limit=8)
    with pytest.raises(WireError, match="nested deeper than 8"):
        read_json(body, max_depth=8)


def test_fractions_become_exact_decimals_and_integers_stay_integers() -> None:
    data = read_json(b'{"order": {"quantity": 10.12345678, "n": 7}}', max_depth=8)
    assert data == {"order": {"quantity": Decimal("10.12345678"), "n": 7}}


@pytest.mark.parametrize("literal", ["1e999999999", "-1e31", "1e-31", "1" * 41, "0.5e-999"])
def test_number_literals_out_of_bounds_are_refused_with_their_location(literal: str) -> None:
    body = b'{"order": {"quantity": ' + literal.encode() + b"}}"
    with pytest.raises(WireError) as caught:
        read_json(body, max_depth=8)
    (problem,) = caught.value.problems
    assert problem.loc == ("order", "quantity") and problem.kind == "number_out_of_bounds"


def test_the_largest_exponent_allowed_is_read() -> None:
    data = read_json(f"[1e{MAX_EXPONENT}, 1e-{MAX_EXPONENT}]".encode(), max_depth=8)
    assert data == [Decimal(f"1e{MAX_EXPONENT}"), Decimal(f"1e-{MAX_EXPONENT}")]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_literals_are_refused_wherever_they_are(literal: str) -> None:
    with pytest.raises(WireError) as caught:
        read_json(f'{{"a": [1, {{"b": {literal}}}]}}'.encode(), max_depth=8)
    (problem,) = caught.value.problems
    assert problem.loc == ("a", 1, "b") and problem.kind == "number_not_finite"
    assert literal in problem.message


@pytest.mark.parametrize("text", ["1e999999999", "NaN", "-Infinity", "1e-40", "9" * 41])
def test_decimal_strings_get_the_same_bounds_as_numbers(text: str) -> None:
    with pytest.raises(WireError) as caught:
        read_json(f'{{"order": {{"quantity": "{text}"}}}}'.encode(), max_depth=8,
                  decimal_fields=QUANTITY)  # fmt: skip
    assert caught.value.problems[0].loc == ("order", "quantity")


def test_other_strings_and_ordinary_decimal_strings_pass() -> None:
    body = b'{"order": {"quantity": "2.5", "client_order_id": "1e999999999"}}'
    data = read_json(body, max_depth=8, decimal_fields=QUANTITY)
    assert data["order"] == {"quantity": "2.5", "client_order_id": "1e999999999"}


@pytest.mark.parametrize("body", [b"{", b'{"a": 1,}', b"\xff\xfe\x00", b""])
def test_invalid_json_is_a_wire_error(body: bytes) -> None:
    with pytest.raises(WireError, match="not valid JSON"):
        read_json(body, max_depth=8)


def test_restoring_the_recursion_limit_undoes_what_importing_py_ecc_did() -> None:
    import py_ecc  # noqa: F401  (raises the limit to 100,000 on first import)

    before = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)
    try:
        restore_recursion_limit()
        assert sys.getrecursionlimit() == RECURSION_LIMIT
    finally:
        sys.setrecursionlimit(before)
