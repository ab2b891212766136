"""PortfolioMargin(4, 8) ≡ engine on hypothesis-generated books, risk arrays and margins biased
to within a few units of the requirement: the circuit accepts exactly when the engine's
requirement ≤ margin held, with the engine's public signals. Cases per run: as the other
statements, `ZKRISK_EQUIVALENCE_EXAMPLES` (1,000 by default, every CI run)."""

from __future__ import annotations

import os
import random
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zkrisk.engine.risk.fixed_point import VALUE_BITS
from zkrisk.engine.risk.margin.requirement import ARRAY_BITS
from zkrisk.engine.statements.book_slots import BookSlots
from zkrisk.engine.statements.portfolio_margin import PortfolioMarginStatement

from .conftest import Checkers
from .margin_cases import CIRCUIT, COIN, SCENARIOS, SLOTS, USD

EXAMPLES = int(os.environ.get("ZKRISK_EQUIVALENCE_EXAMPLES", "1000"))
RUN = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TOP = (1 << ARRAY_BITS) - 1

quantity = st.one_of(
    st.just(0),
    st.integers(-1_000 * COIN, 1_000 * COIN),
    st.integers(-(1 << 79), 1 << 79),  # near the 80-bit width
)
entry = st.one_of(st.just(0), st.integers(-100_000 * USD, 100_000 * USD), st.integers(-TOP, TOP))
minimum = st.one_of(st.just(0), st.integers(0, 10_000 * USD), st.integers(0, TOP))


def _pool() -> list[tuple[tuple[tuple[int, ...], ...], tuple[int, ...]]]:
    """Published array sets: few, as in practice (one set margins many books), so each one's
    Poseidon hash is computed once. Entries span 0, desk-sized and the full 64-bit range."""
    rng = random.Random(14)
    scales = (0, 100_000 * USD, TOP)

    def draw(top: int) -> int:
        return rng.randint(-top, top) if top else 0

    pool = []
    for k in range(12):
        top = scales[k % 3]
        arrays = tuple(tuple(draw(top) for _ in range(SCENARIOS)) for _ in range(SLOTS))
        minimums = tuple(abs(draw(scales[(k // 3) % 3])) for _ in range(SLOTS))
        pool.append((arrays, minimums))
    return pool


POOL = _pool()


@st.composite
def statements(draw: st.DrawFn) -> PortfolioMarginStatement:
    qs = [draw(quantity) for _ in range(SLOTS)]
    book = BookSlots(
        account=draw(st.integers(0, (1 << 160) - 1)),
        salt=draw(st.integers(0, (1 << 248) - 1)),
        long=tuple(max(q, 0) for q in qs),
        short=tuple(max(-q, 0) for q in qs),
    )
    if draw(st.integers(0, 19)):
        arrays, minimums = draw(st.sampled_from(POOL))
    else:  # one case in twenty: a fresh array set
        arrays = tuple(tuple(draw(entry) for _ in range(SCENARIOS)) for _ in range(SLOTS))
        minimums = tuple(draw(minimum) for _ in range(SLOTS))
    probe = PortfolioMarginStatement(book, arrays, minimums, 0, 0)
    edge = probe.requirement() + draw(st.integers(-3, 3))
    held = draw(st.one_of(st.just(edge), st.integers(0, (1 << VALUE_BITS) - 1)))
    binding = draw(st.integers(0, (1 << 252) - 1))
    return PortfolioMarginStatement(
        book, arrays, minimums, min(max(held, 0), (1 << VALUE_BITS) - 1), binding
    )


def test_circuit_accepts_exactly_the_books_the_engine_covers(circuits: Checkers) -> None:
    verdicts: Counter[bool] = Counter()

    @RUN
    @given(statements())
    def case(s: PortfolioMarginStatement) -> None:
        signals = s.signals()
        result = circuits[CIRCUIT].check(signals)
        holds = s.margin().covered_by(s.margin_held)
        assert result.accepted is holds, (s, result.error)
        if holds:
            assert result.public == s.public_signals()
            assert result.public[:3] == (signals["commitment"], s.margin_held, s.binding)
        verdicts[holds] += 1

    case()
    # Both verdicts occur often enough that the test says something about each.
    assert min(verdicts[True], verdicts[False]) >= EXAMPLES // 10, verdicts
