"""All-short books that break the leverage rule yet pass gross·10⁴ ≤ L·equity in the field.

Without margin an all-short book has equity = −gross = −g, so the circuit's leverage difference
L·equity − 10⁴·gross is −g·(L + 10⁴) mod p, and the unchecked circuit accepted it whenever that
lands below 2^W (W the comparison's width): g·(L + 10⁴) ≡ −d (mod p) with 0 ≤ d < 2^W. Such a
g is a short vector of the lattice {(g, g·M − j·p)}, found by Lagrange–Gauss reduction and
Babai rounding; it is then laid out on two realistically priced slots, g = s₁·P₁ + s₃·P₃.
"""

from __future__ import annotations

from zkrisk.engine.risk.fixed_point import LEVERAGE_BITS, VALUE_BITS, ceil_log2
from zkrisk.engine.statements.book_slots import BookSlots
from zkrisk.engine.statements.limits import LimitParams, LimitsStatement
from zkrisk.prover.field import SNARK_SCALAR_FIELD

P = int(SNARK_SCALAR_FIELD)
SLOTS = 4
#: BookLimits' leverage comparison width: EQUITY_BITS + LEVERAGE_BITS + 1.
WINDOW_BITS = VALUE_BITS + ceil_log2(SLOTS + 1) + LEVERAGE_BITS + 1
BTC, DUST = 6_432_112_345_678, 100_000_001  # 64,321.12 USD and 1.00000001 USD: coprime
PRICES = (10**8, BTC, 312_345_678_901, DUST)
ACCOUNT, SALT = 0xDE5C0001, 0x5A17

Vector = tuple[int, int]


def leverage_difference(gross: int, equity: int, leverage_bps: int) -> int:
    """What BookLimits range-checks for the leverage rule, as a field element."""
    return (leverage_bps * equity - gross * 10_000) % P


def _gauss_reduce(u: Vector, v: Vector, weight: int) -> tuple[Vector, Vector]:
    def dot(a: Vector, b: Vector) -> int:
        return a[0] * b[0] * weight * weight + a[1] * b[1]

    if dot(u, u) > dot(v, v):
        u, v = v, u
    while True:
        q = (2 * dot(u, v) + dot(u, u)) // (2 * dot(u, u))  # nearest integer to <u,v>/<u,u>
        v = (v[0] - q * u[0], v[1] - q * u[1])
        if dot(v, v) >= dot(u, u):
            return u, v
        u, v = v, u


def _nearest(n: int, d: int) -> int:
    """n / d rounded to the nearest integer, exactly (no floats)."""
    if d < 0:
        n, d = -n, -d
    return (2 * n + d) // (2 * d)


def wrapping_gross(multiplier: int, g_max: int, window_bits: int) -> int | None:
    """Some 0 < g < g_max with −g·multiplier mod p < 2^window_bits, or None."""
    window = 1 << window_bits
    u, v = _gauss_reduce((1, multiplier % P), (0, P), max(1, window // g_max))
    target = (g_max // 2, -(window // 2))
    det = u[0] * v[1] - u[1] * v[0]
    a = _nearest(target[0] * v[1] - target[1] * v[0], det)
    b = _nearest(u[0] * target[1] - u[1] * target[0], det)
    for da in range(-3, 4):
        for db in range(-3, 4):
            x = (a + da) * u[0] + (b + db) * v[0]
            for g in (x, -x):
                if 0 < g < g_max and (-g * multiplier) % P < window:
                    return g
    return None


def all_short(short: tuple[int, ...], prices: tuple[int, ...] = PRICES) -> LimitsStatement:
    """An all-short book, no margin, every cap at its slot's notional, concentration 100 %.

    Built with a legal leverage (1,000 bps); callers replace leverageBps in the signals.
    """
    book = BookSlots(account=ACCOUNT, salt=SALT, long=(0,) * SLOTS, short=short)
    caps = tuple(s * p for s, p in zip(short, prices, strict=True))
    params = LimitParams(caps, concentration_bps=10_000, leverage_bps=1_000)
    return LimitsStatement(book=book, margin=0, price=prices, params=params)


def wrapped_book(leverage_bps: int) -> LimitsStatement | None:
    """An all-short book whose leverage check wraps at `leverage_bps`, or None if none exists."""
    g = wrapping_gross(leverage_bps + 10_000, ((1 << 80) - 1) * BTC, WINDOW_BITS)
    if g is None:
        return None
    dust = g * pow(DUST, -1, BTC) % BTC
    btc = (g - dust * DUST) // BTC
    if btc < 0:
        return None
    return all_short((0, btc, 0, dust))
