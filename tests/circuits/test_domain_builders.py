"""Statements built from domain objects (Portfolio, PriceSnapshot, ScenarioSet), never by hand:
the layout matches a hand computation, the circuits accept them, and bad input says why."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from tests.unit.risk_fixtures import book, snapshot
from zkrisk.engine.risk.fixed_point import LOSS_SCALE
from zkrisk.engine.risk.models import ScenarioSet
from zkrisk.engine.statements.attestation import attestation_statement
from zkrisk.engine.statements.limits import LimitParams, limit_params, limits_statement

from .conftest import Checkers
from .statement_cases import es_edge

SYMBOLS = ("USDC", "WETH", "WBTC", "LINK")
D = Decimal


def scenarios(k: int = 20) -> ScenarioSet:
    rng = random.Random(7)
    rows = tuple(
        (D(0), *(D(rng.randint(-80_000, 60_000)) / 1_000_000 for _ in range(3))) for _ in range(k)
    )
    return ScenarioSet(symbols=SYMBOLS, returns=rows)


def params(caps: dict[str, Decimal] | None = None) -> LimitParams:
    return limit_params(
        SYMBOLS, slots=4, notional_caps_usd=caps or dict.fromkeys(SYMBOLS, D(10**7)),
        concentration_bps=10_000, leverage_bps=100_000,
    )  # fmt: skip


def test_attestation_losses_match_a_hand_computation() -> None:
    portfolio, prices, scen = book(margin=D(500), margin_symbol="USDC"), snapshot(), scenarios()
    statement = attestation_statement(
        portfolio, prices, scen, SYMBOLS, slots=4, salt=1, params=params(),
        alpha_bps=9_000, var_limit=0, es_limit=0,
    )  # fmt: skip
    held = {"USDC": D(200_000) + D(500), "WETH": D(10), "WBTC": D(-1), "LINK": D(0)}
    price = {s: prices.prices[s].price for s in SYMBOLS}
    expected = [
        -sum(held[s] * price[s] * r for s, r in zip(SYMBOLS, row, strict=True))
        for row in scen.returns
    ]
    assert [D(x) / LOSS_SCALE for x in statement.losses()] == expected


def test_domain_built_attestation_is_accepted_at_its_edges(circuits: Checkers) -> None:
    def at(var_limit: int, es_limit: int) -> bool:
        s = attestation_statement(
            book(margin=D(500), margin_symbol="USDC"), snapshot(), scenarios(), SYMBOLS,
            slots=4, salt=99, params=params(), alpha_bps=9_500,
            var_limit=var_limit, es_limit=es_limit,
        )  # fmt: skip
        result = circuits["attest4x20"].check(s.signals())
        assert result.accepted is s.holds()
        return result.accepted

    probe = attestation_statement(
        book(margin=D(500), margin_symbol="USDC"), snapshot(), scenarios(), SYMBOLS, slots=4,
        salt=99, params=params(), alpha_bps=9_500, var_limit=0, es_limit=0,
    )  # fmt: skip
    assert probe.var() > 0
    assert at(probe.var(), es_edge(probe))
    assert not at(probe.var() - 1, es_edge(probe))
    assert not at(probe.var(), es_edge(probe) - 1)


def test_domain_built_limits_report_the_breached_cap(circuits: Checkers) -> None:
    caps = {**dict.fromkeys(SYMBOLS, D(10**7)), "WETH": D(19_999)}  # 10 WETH at 2,000
    statement = limits_statement(
        book(margin=D(500), margin_symbol="USDC"), snapshot(), SYMBOLS, slots=4, salt=5,
        params=params(caps),
    )  # fmt: skip
    assert statement.breaches() == [
        f"slot 1: notional {20_000 * 10**16} above cap {19_999 * 10**16}"
    ]
    assert not circuits["limits4"].accepts(statement.signals())


def test_missing_price_is_an_error_not_a_zero() -> None:
    prices = snapshot({"USDC": D(1), "WETH": D(2000), "WBTC": D(100_000)})
    with pytest.raises(ValueError, match="has no price for LINK"):
        limits_statement(book(), prices, SYMBOLS, slots=4, salt=1, params=params())


def test_position_without_a_slot_is_an_error() -> None:
    with pytest.raises(ValueError, match="positions in assets without a slot: WBTC"):
        limits_statement(book(), snapshot(), ("USDC", "WETH"), slots=4, salt=1, params=params())


def test_scenarios_without_a_slot_symbol_are_an_error() -> None:
    partial = ScenarioSet(symbols=("USDC", "WETH", "WBTC"), returns=((D(0), D(0), D(0)),))
    with pytest.raises(ValueError, match="no returns for LINK"):
        attestation_statement(
            book(), snapshot(), partial, SYMBOLS, slots=4, salt=1, params=params(),
            alpha_bps=9_000, var_limit=0, es_limit=0,
        )  # fmt: skip


def test_margin_in_an_asset_other_than_slot_0_is_an_error() -> None:
    with pytest.raises(ValueError, match="slot 0 \\(the margin asset\\) is WETH"):
        limits_statement(
            book(margin=D(1), margin_symbol="USDC"), snapshot(), ("WETH", "USDC", "WBTC", "LINK"),
            slots=4, salt=1, params=params(),
        )  # fmt: skip
