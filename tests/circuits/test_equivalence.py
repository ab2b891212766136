"""Circuit ≡ engine on hypothesis-generated books biased to within a few units of each edge.

For every generated case the circuit accepts exactly when the engine's statement holds, and an
accepted witness carries exactly the engine's public signals. `ZKRISK_EQUIVALENCE_EXAMPLES`
sets the number of cases per circuit: 1,000 by default (every CI run), 10,000 in
`make test-slow`.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zkrisk.engine.risk.fixed_point import BINDING_BITS, BPS_BITS, LEVERAGE_BITS
from zkrisk.engine.statements.attestation import AttestationStatement
from zkrisk.engine.statements.book_slots import BookSlots
from zkrisk.engine.statements.health import HealthMode, HealthStatement
from zkrisk.engine.statements.limits import LimitParams, LimitsStatement

from .conftest import Checkers
from .statement_cases import WIDE_CAP, es_edge

EXAMPLES = int(os.environ.get("ZKRISK_EQUIVALENCE_EXAMPLES", "1000"))
SLOTS = 4
COIN = 10**8
BPS_MAX = (1 << BPS_BITS) - 1
LEVERAGE_MAX = (1 << LEVERAGE_BITS) - 1
RUN = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

quantity = st.one_of(
    st.just(0),
    st.integers(-10_000 * COIN, 10_000 * COIN),
    st.integers(-(1 << 79), 1 << 79),  # near the 80-bit width
)
price = st.one_of(st.integers(1, 100_000 * COIN), st.integers(0, (1 << 64) - 1))
margin = st.one_of(st.just(0), st.integers(0, 1_000_000 * COIN))
nudge = st.integers(-3, 3)


@st.composite
def books(draw: st.DrawFn) -> BookSlots:
    qs = [draw(quantity) for _ in range(SLOTS)]
    return BookSlots(
        account=draw(st.integers(0, (1 << 160) - 1)),
        salt=draw(st.integers(0, (1 << 248) - 1)),
        long=tuple(max(q, 0) for q in qs),
        short=tuple(max(-q, 0) for q in qs),
    )


def clamp(v: int, top: int) -> int:
    return max(0, min(v, top))


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@st.composite
def health_statements(draw: st.DrawFn) -> HealthStatement:
    book = draw(books())
    probe = HealthStatement(
        account=book.account, salt=book.salt, snapshot_id=draw(st.integers(0, (1 << 64) - 1)),
        collateral=book.long, debt=book.short,
        price=tuple(draw(price) for _ in range(SLOTS)),
        lt=tuple(draw(st.integers(0, 10_000)) for _ in range(SLOTS)),
        margin=draw(margin), threshold_bps=0, mode=draw(st.sampled_from(HealthMode)),
        binding=draw(st.integers(0, (1 << BINDING_BITS) - 1)),
    )  # fmt: skip
    debt = probe.debt_value()
    edge = probe.weighted_collateral() // debt if debt else draw(st.integers(0, BPS_MAX))
    return replace(probe, threshold_bps=clamp(edge + draw(nudge), BPS_MAX))


@st.composite
def limits_statements(draw: st.DrawFn) -> LimitsStatement:
    book = draw(books())
    prices = tuple(draw(price) for _ in range(SLOTS))
    probe = LimitsStatement(
        book=book, margin=draw(margin), price=prices,
        params=LimitParams((WIDE_CAP,) * SLOTS, 10_000, LEVERAGE_MAX),
    )  # fmt: skip
    view = probe.view()
    edge = st.booleans()  # each limit is either at its edge or far away
    caps = tuple(
        clamp(n + draw(nudge), (1 << 144) - 1) if draw(edge) else (1 << 144) - 1
        for n in view.notional
    )
    concentration = 10_000
    if view.gross and draw(edge):
        concentration = ceil_div(max(view.notional) * 10_000, view.gross) + draw(nudge)
    leverage = LEVERAGE_MAX
    if view.equity > 0 and draw(edge):
        leverage = ceil_div(view.gross * 10_000, view.equity) + draw(nudge)
    params = LimitParams(caps, clamp(concentration, BPS_MAX), clamp(leverage, LEVERAGE_MAX))
    return replace(probe, params=params)


@st.composite
def attestations(draw: st.DrawFn) -> AttestationStatement:
    limits = draw(limits_statements())
    if draw(st.integers(0, 4)):  # mostly keep the limits, so VaR/ES decide the verdict
        wide = LimitParams(((1 << 144) - 1,) * SLOTS, 10_000, LEVERAGE_MAX)
        limits = replace(limits, params=wide)
    ret = st.one_of(
        st.just(0), st.integers(-200_000, 200_000), st.integers(-(1 << 31), (1 << 31) - 1)
    )
    returns = tuple(tuple(draw(ret) for _ in range(SLOTS)) for _ in range(20))
    alpha = draw(st.one_of(st.sampled_from([5_000, 9_000, 9_500, 9_900]), st.integers(1, 9_999)))
    probe = AttestationStatement(limits, alpha, var_limit=0, es_limit=0, returns=returns)
    var = max(0, probe.var() + draw(nudge))
    es = max(0, es_edge(probe) + draw(nudge))
    return replace(probe, var_limit=var, es_limit=es)


def check_agreement(
    circuits: Checkers,
    name: str,
    statement: HealthStatement | LimitsStatement | AttestationStatement,
) -> bool:
    result = circuits[name].check(statement.signals())
    holds = statement.holds()
    assert result.accepted is holds, (name, holds, result.error, statement)
    if result.accepted:
        assert result.public == statement.public_signals()
    return holds


def run_and_count(circuits: Checkers, name: str, strategy: st.SearchStrategy) -> Counter[bool]:  # type: ignore[type-arg]
    seen: Counter[bool] = Counter()

    @RUN
    @given(strategy)
    def case(statement: HealthStatement | LimitsStatement | AttestationStatement) -> None:
        seen[check_agreement(circuits, name, statement)] += 1

    case()
    return seen


def assert_both_verdicts_tested(seen: Counter[bool]) -> None:
    # Biasing to the edges must exercise both sides, not one verdict a thousand times.
    assert sum(seen.values()) >= EXAMPLES
    assert min(seen[True], seen[False]) >= EXAMPLES // 10, seen


def test_health_circuit_agrees_with_the_engine(circuits: Checkers) -> None:
    assert_both_verdicts_tested(run_and_count(circuits, "health4", health_statements()))


def test_limits_circuit_agrees_with_the_engine(circuits: Checkers) -> None:
    assert_both_verdicts_tested(run_and_count(circuits, "limits4", limits_statements()))


def test_attestation_circuit_agrees_with_the_engine(circuits: Checkers) -> None:
    assert_both_verdicts_tested(run_and_count(circuits, "attest4x20", attestations()))
