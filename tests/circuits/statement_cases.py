"""Limits and attestation statements near their edges, built by the engine (never by hand)."""

from __future__ import annotations

import random
from dataclasses import replace

from zkrisk.engine.statements.attestation import AttestationStatement
from zkrisk.engine.statements.book_slots import BookSlots
from zkrisk.engine.statements.limits import LimitParams, LimitsStatement

COIN = 10**8  # one unit in quantity / price fixed point
VALUE = COIN * COIN  # one USD at VALUE scale
WIDE_CAP = 10**9 * VALUE  # a cap no test book reaches

# Slot 0 USD (margin asset), 2 ETH long, 0.1 BTC short, one empty slot. Notionals: 1,000 USD,
# 6,000 ETH, 6,000 BTC; gross 13,000; equity 1,000 + 6,000 − 6,000 + 500 margin = 1,500.
BOOK = BookSlots(
    account=0x00000000000000000000000000000000DE5C0001,
    salt=0x1234_5678_9ABC_DEF0_1234_5678_9ABC_DEF0,
    long=(1_000 * COIN, 2 * COIN, 0, 0),
    short=(0, 0, COIN // 10, 0),
)
PRICES = (COIN, 3_000 * COIN, 60_000 * COIN, COIN)
MARGIN = 500 * COIN
# leverage 13,000 / 1,500 = 8.67×, concentration 6,000 / 13,000 = 46.15 %
PERMISSIVE = LimitParams((WIDE_CAP,) * 4, concentration_bps=10_000, leverage_bps=100_000)


def base_limits(**overrides: object) -> LimitsStatement:
    statement = LimitsStatement(book=BOOK, margin=MARGIN, price=PRICES, params=PERMISSIVE)
    return replace(statement, **overrides)  # type: ignore[arg-type]


def seeded_returns(k: int, n: int, seed: int = 1) -> tuple[tuple[int, ...], ...]:
    """K × N returns in RETURN fixed point within ±10 %; slot 0 (USD) never moves."""
    rng = random.Random(seed)
    return tuple((0, *(rng.randint(-100_000, 100_000) for _ in range(n - 1))) for _ in range(k))


def base_attestation(**overrides: object) -> AttestationStatement:
    """Attest4x20 at α = 90 % (m = 2) with limits exactly at the book's VaR and ES."""
    probe = AttestationStatement(
        limits=base_limits(), alpha_bps=9_000, var_limit=0, es_limit=0,
        returns=seeded_returns(20, 4),
    )  # fmt: skip
    statement = replace(probe, var_limit=probe.var(), es_limit=es_edge(probe))
    return replace(statement, **overrides)  # type: ignore[arg-type]


def es_edge(statement: AttestationStatement) -> int:
    """The least ES limit that passes: ⌈ES_α⌉, Acerbi–Tasche, by hand (never negative).

    With w = K(1 − α), m = ⌊w⌋: w · ES = Σ m largest + (w − m) · VaR, so ⌈ES⌉ is the ceiling
    of (10⁴ · Σ m largest + (K(10⁴ − α) − 10⁴ · m) · VaR) / (K(10⁴ − α)).
    """
    k, m, alpha = len(statement.returns), statement.tail_count(), statement.alpha_bps
    ordered = sorted(statement.losses(), reverse=True)
    weight = k * (10_000 - alpha)
    scaled = 10_000 * sum(ordered[:m]) + (weight - 10_000 * m) * ordered[m]
    return max(0, -(-scaled // weight))
