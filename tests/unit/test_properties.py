"""Properties (hypothesis): the exact integer metrics against a Decimal reference, and invariants."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal, localcontext
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from zkrisk.engine.risk import fixed_point as fp
from zkrisk.engine.risk.checks import RiskEngine
from zkrisk.engine.risk.metrics.health import health_factor_bps, total_debt, weighted_collateral
from zkrisk.engine.risk.metrics.var import (
    count_losses_above,
    historical_es_exact,
    historical_es_fixed,
    historical_var_fixed,
    scenario_losses_fixed,
    tail_count,
)
from zkrisk.engine.risk.models import TradingState, VerdictKind

from .risk_fixtures import ASSETS, SCENARIOS, book, order, policy, snapshot, state

D = Decimal
ULP_LOSS = D(1).scaleb(-fp.LOSS_DECIMALS)

quantities = st.integers(min_value=0, max_value=10**16).map(lambda v: D(v).scaleb(-8))
signed_quantities = st.integers(min_value=-(10**16), max_value=10**16).map(
    lambda v: D(v).scaleb(-8)
)
prices = st.integers(min_value=1, max_value=10**15).map(lambda v: D(v).scaleb(-8))
returns = st.integers(min_value=-(10**6), max_value=10**6).map(lambda v: D(v).scaleb(-6))
alphas = st.integers(min_value=1, max_value=9_999).map(lambda v: D(v).scaleb(-4))


def q_fixed(x: Decimal) -> int:
    return fp.to_qty(x)


def p_fixed(x: Decimal) -> int:
    return fp.to_price(x)


@st.composite
def books(draw: st.DrawFn, max_assets: int = 6) -> tuple[list[Decimal], list[Decimal], list[int]]:
    n = draw(st.integers(min_value=1, max_value=max_assets))
    qs = draw(st.lists(signed_quantities, min_size=n, max_size=n))
    ps = draw(st.lists(prices, min_size=n, max_size=n))
    lts = draw(st.lists(st.integers(min_value=0, max_value=10_000), min_size=n, max_size=n))
    return qs, ps, lts


@st.composite
def scenario_books(
    draw: st.DrawFn,
) -> tuple[list[Decimal], list[Decimal], list[list[Decimal]]]:
    qs, ps, _ = draw(books())
    k = draw(st.integers(min_value=1, max_value=40))
    rows = draw(st.lists(st.lists(returns, min_size=len(qs), max_size=len(qs)),
                         min_size=k, max_size=k))  # fmt: skip
    return qs, ps, rows


def reference_losses(
    qs: list[Decimal], ps: list[Decimal], rows: list[list[Decimal]]
) -> list[Decimal]:
    with localcontext() as ctx:
        ctx.prec = 200
        return [
            -sum((q * p * r for q, p, r in zip(qs, ps, row, strict=True)), D(0)) for row in rows
        ]


def fixed_losses(qs: list[Decimal], ps: list[Decimal], rows: list[list[Decimal]]) -> list[int]:
    return scenario_losses_fixed(
        [q_fixed(q) for q in qs],
        [p_fixed(p) for p in ps],
        [[fp.to_return(r) for r in row] for row in rows],
    )


@given(books())
def test_integer_health_factor_agrees_with_the_decimal_reference_within_one_unit(
    data: tuple[list[Decimal], list[Decimal], list[int]],
) -> None:
    qs, ps, lts = data
    w = weighted_collateral([q_fixed(max(q, D(0))) for q in qs], [p_fixed(p) for p in ps], lts)
    d = total_debt([q_fixed(max(-q, D(0))) for q in qs], [p_fixed(p) for p in ps])
    hf = health_factor_bps(w, d)
    with localcontext() as ctx:
        ctx.prec = 200
        debt = sum((max(-q, D(0)) * p for q, p in zip(qs, ps, strict=True)), D(0))
        coll = sum(
            (max(q, D(0)) * p * lt / 10_000 for q, p, lt in zip(qs, ps, lts, strict=True)), D(0)
        )
        if debt == 0:
            assert hf is None
            return
        reference = coll / debt * 10_000
    assert hf is not None
    assert abs(D(hf) - reference) < 1
    assert hf == int(reference.to_integral_value(ROUND_FLOOR))


@given(scenario_books(), alphas)
def test_integer_var_and_es_agree_with_the_decimal_reference_within_one_unit(
    data: tuple[list[Decimal], list[Decimal], list[list[Decimal]]], alpha: Decimal
) -> None:
    qs, ps, rows = data
    exact = fixed_losses(qs, ps, rows)
    reference = sorted(reference_losses(qs, ps, rows), reverse=True)
    m = tail_count(alpha, len(rows))
    var = fp.from_fixed(historical_var_fixed(exact, alpha), fp.LOSS_DECIMALS)
    es = fp.from_fixed(historical_es_fixed(exact, alpha), fp.LOSS_DECIMALS)
    with localcontext() as ctx:
        ctx.prec = 200
        w = (1 - alpha) * len(rows)  # Acerbi–Tasche: w · ES = Σ m largest + (w − m) · VaR
        es_reference = (sum(reference[:m], D(0)) + (w - m) * reference[m]) / w
        assert abs(var - reference[m]) <= ULP_LOSS
        assert abs(es - es_reference) <= ULP_LOSS


@given(st.lists(st.integers(-(10**30), 10**30), min_size=1, max_size=60), alphas, alphas)
def test_var_and_es_are_monotone_in_alpha(losses: list[int], a: Decimal, b: Decimal) -> None:
    lo, hi = min(a, b), max(a, b)
    assert historical_var_fixed(losses, lo) <= historical_var_fixed(losses, hi)
    assert historical_es_fixed(losses, lo) <= historical_es_fixed(losses, hi)


@given(st.lists(st.integers(-(10**30), 10**30), min_size=1, max_size=60), alphas)
def test_expected_shortfall_is_at_least_var(losses: list[int], alpha: Decimal) -> None:
    assert historical_es_fixed(losses, alpha) >= historical_var_fixed(losses, alpha)


@given(st.lists(st.integers(-(10**30), 10**30), min_size=1, max_size=60), alphas)
def test_expected_shortfall_is_at_least_the_mean_of_the_m_plus_one_largest_losses(
    losses: list[int], alpha: Decimal
) -> None:
    # The definition before issue 14 averaged VaR in at full weight and understated the tail.
    m = tail_count(alpha, len(losses))
    top = sorted(losses, reverse=True)[: m + 1]
    assert historical_es_exact(losses, alpha) >= Fraction(sum(top), m + 1)


@st.composite
def pooled_books(
    draw: st.DrawFn,
) -> tuple[list[Decimal], list[Decimal], list[Decimal], list[list[Decimal]]]:
    """Two books over the same assets and scenarios (their pool holds both)."""
    qs, ps, rows = draw(scenario_books())
    other = draw(st.lists(signed_quantities, min_size=len(qs), max_size=len(qs)))
    return qs, other, ps, rows


@given(pooled_books(), alphas)
def test_expected_shortfall_of_a_pooled_book_is_subadditive(
    data: tuple[list[Decimal], list[Decimal], list[Decimal], list[list[Decimal]]],
    alpha: Decimal,
) -> None:
    a, b, ps, rows = data
    pooled = [x + y for x, y in zip(a, b, strict=True)]
    es = [historical_es_exact(fixed_losses(q, ps, rows), alpha) for q in (a, b, pooled)]
    assert es[2] <= es[0] + es[1]


@given(
    st.lists(st.integers(-(10**30), 10**30), min_size=1, max_size=60),
    alphas,
    st.integers(1, 10**6),
    st.integers(-(10**30), 10**30),
    st.lists(st.integers(0, 10**30), min_size=60, max_size=60),
)
def test_expected_shortfall_is_coherent(
    losses: list[int], alpha: Decimal, scale: int, shift: int, more: list[int]
) -> None:
    es = historical_es_exact(losses, alpha)
    assert historical_es_exact([scale * x for x in losses], alpha) == scale * es  # homogeneous
    assert historical_es_exact([x + shift for x in losses], alpha) == es + shift  # translation
    worse = [x + d for x, d in zip(losses, more, strict=False)]
    assert historical_es_exact(worse, alpha) >= es  # monotone


@given(
    st.lists(st.integers(-1_000, 1_000), min_size=1, max_size=60),
    alphas,
    st.integers(-1_100, 1_100),
)
def test_counting_rule_agrees_with_the_sorted_quantile(
    losses: list[int], alpha: Decimal, limit: int
) -> None:
    m = int((1 - alpha) * len(losses))  # ⌊(1 − α)·K⌋ with exact Decimal arithmetic
    by_count = count_losses_above(losses, limit) <= m
    by_sort = sorted(losses, reverse=True)[m] <= limit
    assert by_count == by_sort


@given(st.integers(min_value=0, max_value=2**64 - 1), st.integers(min_value=0, max_value=18))
def test_fixed_point_round_trips_exactly(value: int, decimals: int) -> None:
    assert fp.to_fixed(fp.from_fixed(value, decimals), decimals, 64, name="x") == value


REDUCING_ENGINE = RiskEngine(
    policy(min_health_factor_bps=1, max_var_usd=D(10**12)), ASSETS, SCENARIOS
)


@settings(max_examples=60, deadline=None)
@given(
    held=st.integers(-(10**10), 10**10).map(lambda v: D(v).scaleb(-8)),
    size=st.integers(1, 2 * 10**10).map(lambda v: D(v).scaleb(-8)),
    side=st.sampled_from(["BUY", "SELL"]),
)
def test_reducing_state_never_approves_an_order_that_grows_the_position(
    held: Decimal, size: Decimal, side: str
) -> None:
    portfolio = book({"WETH": str(held), "USDC": "10000000"})
    verdict = REDUCING_ENGINE.check(
        order(side=side, quantity=size), portfolio, snapshot(),
        state(trading_state=TradingState.REDUCING),
    )  # fmt: skip
    after = held + (size if side == "BUY" else -size)
    if verdict.kind is VerdictKind.APPROVE:
        assert abs(after) < abs(held)
        assert after == 0 or (after > 0) == (held > 0)
    else:
        assert abs(after) >= abs(held) or (after != 0 and (after > 0) != (held > 0))
