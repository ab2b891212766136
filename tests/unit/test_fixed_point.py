"""Fixed point: exact conversion, loud refusal, and the 252-bit budget."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from zkrisk.engine.risk import fixed_point as fp
from zkrisk.engine.risk.fixed_point import FixedPointError, from_fixed, to_fixed, to_signed_fixed

D = Decimal


def test_interface_constants_have_the_agreed_values() -> None:
    assert (fp.PRICE_DECIMALS, fp.PRICE_SCALE, fp.PRICE_BITS) == (8, 10**8, 64)
    assert (fp.QTY_DECIMALS, fp.QTY_SCALE, fp.QTY_BITS) == (8, 10**8, 80)
    assert (fp.VALUE_DECIMALS, fp.VALUE_BITS) == (16, 144)
    assert (fp.BPS_SCALE, fp.BPS_BITS) == (10_000, 16)
    assert (fp.RETURN_DECIMALS, fp.RETURN_SCALE, fp.RETURN_BITS) == (6, 10**6, 32)
    assert (fp.MAX_POSITIONS, fp.FIELD_BITS_SAFE) == (64, 252)


def test_to_fixed_converts_a_decimal_exactly() -> None:
    assert to_fixed(D("3012.55"), 8, 64, name="price") == 301_255_000_000


@pytest.mark.parametrize("x", [D("1.5"), "1.5", "  1.5 ", D("1.50000000000000000000")])
def test_to_fixed_accepts_strings_and_trailing_zeros_beyond_the_scale(x: Decimal | str) -> None:
    assert to_fixed(x, 8, 64, name="q") == 150_000_000


def test_to_fixed_accepts_ints() -> None:
    assert to_fixed(7, 6, 32, name="q") == 7_000_000


def test_to_fixed_when_too_many_decimals_then_raises_naming_the_field_and_the_fix() -> None:
    with pytest.raises(FixedPointError, match=r"limit_price.*more than 8 decimal places.*quantize"):
        to_fixed(D("1.000000001"), 8, 64, name="limit_price")


def test_to_fixed_when_given_a_float_then_refuses_and_advises_a_decimal() -> None:
    with pytest.raises(TypeError, match=r"price: float 0\.1 refused.*Decimal\('0\.1'\)"):
        to_fixed(0.1, 8, 64, name="price")  # type: ignore[arg-type]


def test_to_fixed_when_given_a_bool_then_refuses() -> None:
    with pytest.raises(TypeError, match="boolean"):
        to_fixed(True, 8, 64, name="flag")


@pytest.mark.parametrize("x", [D("NaN"), D("Infinity"), D("-Infinity"), "nan", D("sNaN")])
def test_to_fixed_when_not_finite_then_raises(x: Decimal | str) -> None:
    with pytest.raises(FixedPointError, match="not a finite number"):
        to_fixed(x, 8, 64, name="price")


def test_to_fixed_when_negative_then_raises_because_the_field_is_unsigned() -> None:
    with pytest.raises(FixedPointError, match="negative"):
        to_fixed(D("-0.00000001"), 8, 64, name="price")


def test_to_fixed_exactly_at_the_top_of_the_range_passes() -> None:
    top = from_fixed(2**64 - 1, 8)
    assert to_fixed(top, 8, 64, name="price") == 2**64 - 1


def test_to_fixed_one_unit_over_the_range_raises() -> None:
    with pytest.raises(FixedPointError, match=r"out of range.*2\*\*64"):
        to_fixed(from_fixed(2**64, 8), 8, 64, name="price")


def test_to_fixed_with_an_absurd_exponent_fails_fast() -> None:
    started = time.perf_counter()
    with pytest.raises(FixedPointError, match="out of range"):
        to_fixed(D("1e999999999"), 8, 64, name="price")
    assert time.perf_counter() - started < 0.1


def test_to_fixed_when_the_string_is_not_a_number_then_raises() -> None:
    with pytest.raises(FixedPointError, match="not a decimal number"):
        to_fixed("12abc", 8, 64, name="price")


def test_fixed_point_error_is_a_value_error() -> None:
    assert issubclass(FixedPointError, ValueError)


def test_to_signed_fixed_accepts_the_open_range_and_rejects_its_ends() -> None:
    assert to_signed_fixed(from_fixed(2**31 - 1, 6), 6, 32, name="r") == 2**31 - 1
    assert to_signed_fixed(from_fixed(-(2**31) + 1, 6), 6, 32, name="r") == -(2**31) + 1
    for edge in (2**31, -(2**31)):
        with pytest.raises(FixedPointError, match="signed 32-bit"):
            to_signed_fixed(from_fixed(edge, 6), 6, 32, name="r")


def test_return_of_minus_one_is_allowed_and_below_it_is_refused() -> None:
    assert fp.to_return(D(-1)) == -fp.RETURN_SCALE
    with pytest.raises(FixedPointError, match="below -1"):
        fp.to_return(D("-1.000001"))


def test_from_fixed_is_exact_beyond_the_decimal_context_precision() -> None:
    big = 2**200 + 12345
    assert to_fixed(from_fixed(big, 22), 22, 256, name="x") == big
    assert from_fixed(-150, 2) == D("-1.50")


def test_worst_case_products_and_sums_fit_the_safe_field_width() -> None:
    widths = fp.worst_case_bits()
    assert max(widths.values()) < fp.FIELD_BITS_SAFE
    assert widths["health_weighted"] == fp.VALUE_BITS + fp.BPS_BITS + fp.ceil_log2(65)
    bound = fp.MAX_POSITIONS * 2**fp.VALUE_BITS * 2**fp.BPS_BITS * 2**fp.BPS_BITS
    assert bound < 2**fp.FIELD_BITS_SAFE


def test_ceil_log2_counts_bits() -> None:
    assert [fp.ceil_log2(n) for n in (1, 2, 3, 4, 5, 64, 65)] == [0, 1, 2, 2, 3, 6, 7]
    with pytest.raises(ValueError):
        fp.ceil_log2(0)


def test_the_fast_conversion_returns_and_refuses_exactly_as_the_checked_one() -> None:
    import random

    rng = random.Random(5)
    cases = [D(0), D("-0"), D("0E+999999"), D("1E+999999"), D("1E-999"), D("1E-64"), D("1E-63"),
             D("5E+3"), D("1E+30"), D("-1E+26"), D("0.123456789"), D("-3.00000000"),
             D("99999999999999999999.99999999"), D("NaN"), D("-Infinity")]  # fmt: skip
    for _ in range(4_000):
        digits = tuple(rng.randint(0, 9) for _ in range(rng.randint(1, 40)))
        cases.append(D((rng.randint(0, 1), digits, rng.randint(-40, 12))))

    def outcome(convert: object, d: Decimal, decimals: int, bits: int) -> tuple[str, object]:
        try:
            return "ok", convert(d, decimals, "x", bits)  # type: ignore[operator]
        except FixedPointError as exc:
            return "refused", str(exc)

    for d in cases:
        for decimals, bits in ((8, 81), (8, 64), (16, 144), (6, 32), (0, 40)):
            fast = outcome(fp._scaled_int, d, decimals, bits)
            assert fast == outcome(fp._scaled_int_checked, d, decimals, bits), (d, decimals)
