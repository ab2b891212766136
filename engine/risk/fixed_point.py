"""Fixed-point scales and bit widths: the single source of truth for every number a circuit sees.

Every quantity that enters a proof is an unsigned (or explicitly signed) integer at one of the
scales below. Circuits and contracts get these constants generated from this module; nothing
else may retype them. Conversions are exact: a value that does not fit its scale or its bit
width raises `FixedPointError` instead of being rounded.
"""

from __future__ import annotations

from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal, InvalidOperation
from typing import Final

#: USD prices, Chainlink style (8 decimals), unsigned, < 2**PRICE_BITS.
PRICE_DECIMALS: Final = 8
PRICE_SCALE: Final = 10**PRICE_DECIMALS
PRICE_BITS: Final = 64

#: Asset quantities (magnitudes; the sign lives in collateral/debt slots), < 2**QTY_BITS.
QTY_DECIMALS: Final = 8
QTY_SCALE: Final = 10**QTY_DECIMALS
QTY_BITS: Final = 80

#: USD values = quantity · price, so the value scale is the product of both scales.
VALUE_DECIMALS: Final = QTY_DECIMALS + PRICE_DECIMALS
VALUE_SCALE: Final = 10**VALUE_DECIMALS
VALUE_BITS: Final = QTY_BITS + PRICE_BITS

#: Basis points: liquidation thresholds, close factor, bonus, HF thresholds, α, caps.
BPS_SCALE: Final = 10_000
BPS_BITS: Final = 16
#: Leverage caps are bps too, but desks run above 6.5× (2^16 bps): they get 24 bits (1677×).
LEVERAGE_BITS: Final = 24

#: Scenario returns, signed: -1 ≤ r and |r · RETURN_SCALE| < 2**(RETURN_BITS - 1).
RETURN_DECIMALS: Final = 6
RETURN_SCALE: Final = 10**RETURN_DECIMALS
RETURN_BITS: Final = 32

#: Scenario losses = -Σ quantity · price · return, at VALUE · RETURN scale.
LOSS_DECIMALS: Final = VALUE_DECIMALS + RETURN_DECIMALS
LOSS_SCALE: Final = 10**LOSS_DECIMALS

#: Identifiers that circuits range-check (already consumed by circuits/generated/Constants.circom).
ACCOUNT_BITS: Final = 160
SNAPSHOT_ID_BITS: Final = 64
ROUND_ID_BITS: Final = 80  # Chainlink round ids are uint80
TIMESTAMP_BITS: Final = 64
#: The action binding is keccak256(…) mod 2**BINDING_BITS (not mod p): Health range-checks it to
#: this width, so the field element p − b (which also squares to b²) is no second valid binding.
BINDING_BITS: Final = 252

MAX_POSITIONS: Final = 64
#: The largest notional (|quantity| · price, USD) one position, margin or order may have. USD
#: figures are Decimals to the cent in Python's default 28-digit context, so they must stay
#: below 10**26; this bound keeps every figure derived from a book under that (a gross over
#: MAX_POSITIONS + 2 legs, a scenario loss at the widest return 2**31 / 10**6: see
#: `assert_field_bounds`). Inputs at or above it are refused when the book meets its prices.
MAX_NOTIONAL_USD: Final = 10**20
USD_DIGITS: Final = 28
MAX_SCENARIOS: Final = 2**16 - 1
FIELD_BITS_SAFE: Final = 252


class FixedPointError(ValueError):
    """A number cannot be represented exactly at its fixed-point scale and bit width."""


def _describe(x: object) -> str:
    return repr(x) if not isinstance(x, Decimal) else f"Decimal('{x}')"


def _to_decimal(x: Decimal | int | str, name: str) -> Decimal:
    # bool is an int subclass; a flag passed as a number is always a bug.
    if isinstance(x, bool):
        raise TypeError(f"{name}: a boolean is not a number")
    if isinstance(x, float):
        raise TypeError(
            f"{name}: {type(x).__name__} {x!r} refused; binary floats are inexact. "
            f"Pass a str or Decimal, e.g. Decimal('{x}')"
        )
    if isinstance(x, Decimal):
        return x
    if isinstance(x, int):
        return Decimal(x)
    if isinstance(x, str):
        try:
            return Decimal(x.strip())
        except InvalidOperation:
            raise FixedPointError(f"{name}: {x!r} is not a decimal number") from None
    raise TypeError(f"{name}: expected Decimal, int or str, got {type(x).__name__}")


_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
"""Wide enough that moving a decimal point never rounds (`_scaled_int`'s fast path)."""


def _scaled_int(d: Decimal, decimals: int, name: str, bits: int) -> int:
    """d · 10**decimals as an exact int, or FixedPointError. Never uses a rounding context.

    The common case (a finite number of moderate size that fits the scale) moves the point in
    C; anything else, every refusal included, takes `_scaled_int_checked`, which says why."""
    if d.is_finite() and d.adjusted() > -64 and d.adjusted() + 1 + decimals <= bits // 3 + 2:
        scaled = d.scaleb(decimals, _EXACT)
        value = int(scaled)
        if scaled == value:
            return value
    return _scaled_int_checked(d, decimals, name, bits)


def _scaled_int_checked(d: Decimal, decimals: int, name: str, bits: int) -> int:
    if not d.is_finite():
        raise FixedPointError(f"{name}: {_describe(d)} is not a finite number")
    sign, digits, exponent = d.as_tuple()
    assert isinstance(exponent, int)  # finite, so never 'n'/'N'/'F'
    mantissa = int("".join(map(str, digits))) if digits else 0
    shift = exponent + decimals
    if mantissa == 0:
        return 0
    # Reject absurd magnitudes before materialising 10**shift (1e999999 must not hang).
    if len(digits) + shift > bits // 3 + 2:
        raise FixedPointError(
            f"{name}: {_describe(d)} is out of range: |value| ≥ 2**{bits} / 10**{decimals}"
        )
    value: int
    if shift >= 0:
        value = mantissa * 10**shift
    else:
        value, remainder = divmod(mantissa, 10**-shift)
        if remainder:
            raise FixedPointError(
                f"{name}: {_describe(d)} has more than {decimals} decimal places; the fixed-point "
                f"scale is 10**{decimals} and values are never rounded silently. Round it "
                f"explicitly first, e.g. value.quantize(Decimal('1e-{decimals}'), ROUND_DOWN)"
            )
    return -value if sign else value


def to_fixed(x: Decimal | int | str, decimals: int, bits: int, *, name: str) -> int:
    """Exact unsigned fixed point: x · 10**decimals as an int in [0, 2**bits).

    Raises FixedPointError (naming `name`) for NaN/inf, too many decimals, negatives, or values
    ≥ 2**bits; TypeError for floats.
    """
    value = _scaled_int(_to_decimal(x, name), decimals, name, bits)
    if value < 0:
        raise FixedPointError(f"{name}: {_describe(x)} is negative; this field is unsigned")
    if value >= 1 << bits:
        raise FixedPointError(
            f"{name}: {_describe(x)} is out of range: fixed-point value {value} ≥ 2**{bits}"
        )
    return value


def to_signed_fixed(x: Decimal | int | str, decimals: int, bits: int, *, name: str) -> int:
    """Exact signed fixed point: x · 10**decimals with -2**(bits-1) < value < 2**(bits-1)."""
    value = _scaled_int(_to_decimal(x, name), decimals, name, bits)
    bound = 1 << (bits - 1)
    if not -bound < value < bound:
        raise FixedPointError(
            f"{name}: {_describe(x)} is out of range: |fixed-point value| {abs(value)} "
            f"≥ 2**{bits - 1} (signed {bits}-bit)"
        )
    return value


def from_fixed(v: int, decimals: int) -> Decimal:
    """The exact Decimal for a fixed-point int (no context rounding, any size)."""
    sign = 1 if v < 0 else 0
    return Decimal((sign, tuple(int(c) for c in str(abs(v))), -decimals))


def to_price(x: Decimal | int | str, *, name: str = "price") -> int:
    return to_fixed(x, PRICE_DECIMALS, PRICE_BITS, name=name)


def to_qty(x: Decimal | int | str, *, name: str = "quantity") -> int:
    """Signed quantity at QTY scale; the magnitude must fit QTY_BITS (collateral/debt slots)."""
    return to_signed_fixed(x, QTY_DECIMALS, QTY_BITS + 1, name=name)


def to_return(x: Decimal | int | str, *, name: str = "return") -> int:
    """Signed scenario return at RETURN scale; a return below -100% is impossible."""
    value = to_signed_fixed(x, RETURN_DECIMALS, RETURN_BITS, name=name)
    if value < -RETURN_SCALE:
        raise FixedPointError(f"{name}: {_describe(x)} is below -1 (a loss beyond 100%)")
    return value


def ceil_log2(n: int) -> int:
    """Bits needed to count n things: smallest b with 2**b ≥ n (n ≥ 1)."""
    if n < 1:
        raise ValueError("ceil_log2 needs n ≥ 1")
    return (n - 1).bit_length()


def worst_case_bits() -> dict[str, int]:
    """Bit widths of the largest value each circuit comparison can see (margin included).

    health  W = Σ_{N+1} collateral·price·lt and threshold·D, D = Σ_N debt·price
    var     |loss| = |Σ_N q·p·r| plus the sign offset 2**b a comparator needs for signed input
    es      10⁴·K(1 − α)·ES over ≤ MAX_SCENARIOS losses vs K·(10⁴ − α)·limit, signed the same way
    """
    value_max = (1 << VALUE_BITS) - 1
    bps_max = (1 << BPS_BITS) - 1
    ret_max = 1 << (RETURN_BITS - 1)
    weighted = (MAX_POSITIONS + 1) * value_max * bps_max
    required = bps_max * MAX_POSITIONS * value_max
    loss = MAX_POSITIONS * value_max * ret_max
    tail_sum = BPS_SCALE * MAX_SCENARIOS * loss  # 10⁴·(S − t) + r·t (Acerbi–Tasche ES)
    return {
        "health_weighted": weighted.bit_length(),
        "health_required": required.bit_length(),
        "health_product_of_bps": (MAX_POSITIONS * value_max * bps_max * bps_max).bit_length(),
        "var_loss_signed": loss.bit_length() + 1,
        "es_tail_sum_signed": tail_sum.bit_length() + 1,
    }


def assert_field_bounds() -> None:
    """Prove at import that no worst-case product or sum reaches FIELD_BITS_SAFE bits."""
    too_wide = {k: b for k, b in worst_case_bits().items() if b >= FIELD_BITS_SAFE}
    if too_wide:
        raise FixedPointError(f"fixed-point widths overflow {FIELD_BITS_SAFE} bits: {too_wide}")
    widest_loss = (MAX_POSITIONS + 2) * MAX_NOTIONAL_USD * (1 << (RETURN_BITS - 1))
    if widest_loss >= 10 ** (USD_DIGITS - 2) * RETURN_SCALE:
        raise FixedPointError(f"MAX_NOTIONAL_USD leaves losses beyond {USD_DIGITS}-digit USD")


assert_field_bounds()
