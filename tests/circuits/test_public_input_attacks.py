"""The three public-input attacks of issue 17, each accepted by the circuits before the fix:
a wrapping leverageBps, a threshold spilling into the mode bit, and the binding's twin p − b."""

from __future__ import annotations

from typing import Any

import pytest

from zkrisk.engine.chain import dev_scenario as ds
from zkrisk.engine.chain.vault_statement import vault_health_statement
from zkrisk.engine.risk.fixed_point import BINDING_BITS, BPS_BITS, LEVERAGE_BITS
from zkrisk.engine.statements.attestation import AttestationStatement
from zkrisk.engine.statements.binding import Action, action_binding
from zkrisk.engine.statements.health import HealthMode
from zkrisk.prover.field import SNARK_SCALAR_FIELD as P

from .conftest import Checkers
from .health_cases import base_statement
from .leverage_wrap import WINDOW_BITS, all_short, leverage_difference, wrapped_book
from .statement_cases import base_limits

# The issue's book: equity −313,103,931 USD, every cap at its notional, concentration 100 %.
ISSUE_PRICES = (100_000_000, 312_345_678_901, 6_432_112_345_678, 100_000_001)
ISSUE_SHORT = (31_310_393_117_284_122, 0, 0, 16_469_094)


def with_leverage(signals: dict[str, Any], leverage_bps: int) -> dict[str, Any]:
    return {**signals, "leverageBps": leverage_bps}


def attestation_of(limits: Any) -> AttestationStatement:
    flat = tuple((0,) * 4 for _ in range(20))  # no scenario moves: VaR = ES = 0
    return AttestationStatement(limits=limits, alpha_bps=9_000, var_limit=0, es_limit=0,
                                returns=flat)  # fmt: skip


def test_issue_book_wraps_the_unchecked_leverage_rule() -> None:
    statement = all_short(ISSUE_SHORT, ISSUE_PRICES)
    view = statement.view()
    assert -view.equity // 10**16 == 313_103_931  # USD
    assert [reason.split(" ")[0] for reason in statement.breaches()] == ["leverage"]
    assert leverage_difference(view.gross, view.equity, 1 << 200) < 1 << WINDOW_BITS


@pytest.mark.parametrize("circuit", ["limits4", "attest4x20"])
def test_negative_equity_book_with_leverage_2_200_is_rejected(
    circuits: Checkers, circuit: str
) -> None:
    limits = all_short(ISSUE_SHORT, ISSUE_PRICES)
    statement = limits if circuit == "limits4" else attestation_of(limits)
    result = circuits[circuit].check(with_leverage(statement.signals(), 1 << 200))
    assert not result.accepted
    assert "Assert Failed" in result.error


def test_wrapped_books_exist_for_every_leverage_from_2_132_and_are_all_rejected(
    circuits: Checkers,
) -> None:
    wrapped = []
    for k in range(LEVERAGE_BITS, 254):
        statement = wrapped_book(1 << k)
        if statement is None:
            # No wrapped book at this size: the range check must refuse 2^k all the same.
            signals = with_leverage(base_limits().signals(), 1 << k)
        else:
            view = statement.view()
            assert not statement.holds()
            assert leverage_difference(view.gross, view.equity, 1 << k) < 1 << WINDOW_BITS
            wrapped.append(k)
            signals = with_leverage(statement.signals(), 1 << k)
        assert not circuits["limits4"].accepts(signals), f"leverageBps = 2^{k} accepted"
    assert wrapped == list(range(132, 254))


def test_largest_leverage_within_its_bits_is_still_accepted(circuits: Checkers) -> None:
    signals = with_leverage(base_limits().signals(), (1 << LEVERAGE_BITS) - 1)
    assert circuits["limits4"].accepts(signals)


# ---- Health: thresholdMode and binding -------------------------------------------------------


@pytest.mark.parametrize("threshold", [1 << BPS_BITS, 70_000])
def test_health_builder_refuses_a_threshold_that_would_flip_the_mode_bit(threshold: int) -> None:
    with pytest.raises(ValueError, match="flip the mode bit"):
        base_statement(threshold_bps=threshold, mode=HealthMode.AT_LEAST)


def test_vault_statement_refuses_a_min_health_that_would_flip_the_mode_bit() -> None:
    with pytest.raises(ValueError, match="flip the mode bit"):
        vault_health_statement(
            book=ds.book("0x" + "ab" * 20), assets=ds.ASSETS, slots=4, salt=1,
            action=Action.UPDATE_COMMITMENT, amount=0, nonce=0, snapshot_id=1,
            prices=[10**8, 3_000 * 10**8, 60_000 * 10**8, 0], escrow=ds.DEPOSIT,
            token_decimals=6, min_health_bps=70_000, chain_id=31337, vault="0x" + "cd" * 20,
            submitter="0x" + "ef" * 20,
        )  # fmt: skip


def test_health_builder_refuses_a_binding_outside_its_bits() -> None:
    with pytest.raises(ValueError, match=f"2\\^{BINDING_BITS}"):
        base_statement(binding=1 << BINDING_BITS)


def test_action_binding_fits_the_circuits_range_check() -> None:
    bindings = [
        action_binding(
            chain_id=1,
            vault="0x" + "11" * 20,
            account="0x" + "22" * 20,
            action=action,
            amount=n,
            nonce=n,
            snapshot_id=n,
            submitter="0x" + "33" * 20,
        )
        for action in Action
        for n in range(64)
    ]
    assert all(0 <= b < 1 << BINDING_BITS for b in bindings)
    assert max(bindings).bit_length() > BINDING_BITS - 8  # reduced mod 2^252, not truncated


def test_binding_twin_p_minus_b_is_rejected(circuits: Checkers) -> None:
    statement = base_statement()
    signals: dict[str, Any] = statement.signals()
    assert circuits["health4"].accepts(signals)
    twin = {**signals, "binding": P - statement.binding}  # same square, another field element
    result = circuits["health4"].check(twin)
    assert not result.accepted
    assert "Assert Failed" in result.error


def test_largest_binding_within_its_bits_is_accepted(circuits: Checkers) -> None:
    statement = base_statement(binding=(1 << BINDING_BITS) - 1)
    assert circuits["health4"].check(statement.signals()).public == statement.public_signals()
