"""RiskAttestation(4, 20): VaR / ES edges, a tampered tail set, limits and aliasing (witnesses)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from zkrisk.engine.statements.attestation import AttestationStatement, tail_witness
from zkrisk.prover.field import SNARK_SCALAR_FIELD as P

from .conftest import Checkers
from .statement_cases import PERMISSIVE, base_attestation, base_limits, es_edge

CIRCUIT = "attest4x20"


def agree(circuits: Checkers, statement: AttestationStatement) -> bool:
    """The circuit's verdict, after asserting it is the engine's."""
    result = circuits[CIRCUIT].check(statement.signals())
    assert result.accepted is statement.holds(), (statement.breaches(), result.error)
    if result.accepted:
        assert result.public == statement.public_signals()
    return result.accepted


def ranked(statement: AttestationStatement) -> list[int]:
    """Scenario indices from the largest loss down."""
    losses = statement.losses()
    return sorted(range(len(losses)), key=lambda k: (-losses[k], k))


@pytest.mark.parametrize(("offset", "holds"), [(-1, False), (0, True), (1, True)])
def test_var_limit_at_threshold_edges_matches_the_engine(
    circuits: Checkers, offset: int, holds: bool
) -> None:
    statement = base_attestation()
    assert statement.var() > 0, "the base book loses money in its VaR scenario"
    assert agree(circuits, replace(statement, var_limit=statement.var() + offset)) is holds


@pytest.mark.parametrize(("offset", "holds"), [(-1, False), (0, True), (1, True)])
def test_es_limit_at_threshold_edges_matches_the_engine(
    circuits: Checkers, offset: int, holds: bool
) -> None:
    statement = base_attestation()
    assert agree(circuits, replace(statement, es_limit=es_edge(statement) + offset)) is holds


# K = 20: w = K(1 − α) is 2 (whole) at 90 %, 1.5 at 92.5 %, 0.5 at 97.5 %, 0.02 at 99.99 %.
@pytest.mark.parametrize("alpha", [9_000, 9_250, 9_750, 9_999, 9_537])
@pytest.mark.parametrize(("offset", "holds"), [(-1, False), (0, True), (1, True)])
def test_acerbi_tasche_es_limit_edges_match_the_engine_for_whole_and_fractional_tails(
    circuits: Checkers, alpha: int, offset: int, holds: bool
) -> None:
    probe = replace(base_attestation(), alpha_bps=alpha, var_limit=10**40)
    assert es_edge(probe) > 0
    assert agree(circuits, replace(probe, es_limit=es_edge(probe) + offset)) is holds


def test_es_is_var_when_fewer_than_one_scenario_lies_beyond_it(circuits: Checkers) -> None:
    probe = replace(base_attestation(), alpha_bps=9_999, var_limit=10**40)  # w = 0.02, m = 0
    assert probe.tail_count() == 0 and es_edge(probe) == probe.var() == probe.es()
    assert agree(circuits, replace(probe, es_limit=probe.var()))
    assert not agree(circuits, replace(probe, es_limit=probe.var() - 1))


def test_es_limit_at_the_old_tail_mean_is_now_a_breach(circuits: Checkers) -> None:
    # Before issue 14 ES was the mean of the m + 1 largest losses, VaR at full weight.
    probe = replace(base_attestation(), alpha_bps=9_250)  # w = 1.5, m = 1
    top = sorted(probe.losses(), reverse=True)[:2]
    old = -(-sum(top) // 2)
    assert old < es_edge(probe)
    assert not agree(circuits, replace(probe, es_limit=old))


def test_forged_tail_that_hides_a_large_loss_cannot_pass_the_es_limit(
    circuits: Checkers,
) -> None:
    # One unit under the ES edge; the prover drops the largest loss from the tail and pads it
    # with the next smaller one, which would lower the tail sum below the limit.
    statement = replace(base_attestation(), alpha_bps=9_250, var_limit=10**40)
    statement = replace(statement, es_limit=es_edge(statement) - 1)
    order, m = ranked(statement), statement.tail_count()
    signals: dict[str, Any] = statement.signals()
    tail, pick = [0] * 20, [0] * 20
    for k in order[1 : m + 2]:
        tail[k] = 1
    pick[order[m + 1]] = 1
    signals.update(tail=tail, pick=pick)
    assert not statement.holds()
    assert not circuits[CIRCUIT].accepts(signals)


def test_alpha_edges_change_the_tail_count_as_the_engine_does(circuits: Checkers) -> None:
    # K = 20: m = ⌊(1 − α)·20⌋ is 2 at α = 90 % and 1 just above it.
    statement = base_attestation()
    assert replace(statement, alpha_bps=9_000).tail_count() == 2
    assert replace(statement, alpha_bps=9_001).tail_count() == 1
    for alpha in (8_999, 9_000, 9_001, 9_499, 9_500, 9_501, 1, 9_999):
        probe = replace(statement, alpha_bps=alpha)
        assert agree(
            circuits, replace(probe, var_limit=max(probe.var(), 0), es_limit=es_edge(probe))
        )
        if probe.var() > 0:
            below = replace(probe, var_limit=probe.var() - 1, es_limit=es_edge(probe))
            assert not agree(circuits, below)


@pytest.mark.parametrize("alpha", [0, 10_000, 10_001, P - 1])
def test_alpha_outside_the_open_unit_interval_is_rejected(circuits: Checkers, alpha: int) -> None:
    signals: dict[str, Any] = base_attestation().signals()
    signals["alphaBps"] = alpha
    assert not circuits[CIRCUIT].accepts(signals)


def test_tail_that_skips_a_larger_loss_is_rejected(circuits: Checkers) -> None:
    # Swap the VaR scenario for a smaller loss: the tail is no longer the top m + 1.
    statement = base_attestation(var_limit=0)
    order = ranked(statement)
    signals: dict[str, Any] = statement.signals()
    m = statement.tail_count()
    tail, pick = list(signals["tail"]), [0] * 20
    tail[order[m]], tail[order[m + 1]] = 0, 1
    pick[order[m + 1]] = 1
    signals.update(tail=tail, pick=pick)
    assert not statement.holds()
    assert not circuits[CIRCUIT].accepts(signals)


@pytest.mark.parametrize("size_change", [-1, 1])
def test_tail_of_the_wrong_size_is_rejected(circuits: Checkers, size_change: int) -> None:
    statement = base_attestation()
    order, m = ranked(statement), statement.tail_count()
    signals: dict[str, Any] = statement.signals()
    tail = list(signals["tail"])
    if size_change < 0:
        tail[order[0]] = 0  # drop the largest, keep the picked VaR scenario
    else:
        tail[order[m + 1]] = 1
    signals["tail"] = tail
    assert not circuits[CIRCUIT].accepts(signals)


def test_pick_that_is_not_the_least_tail_member_is_rejected(circuits: Checkers) -> None:
    # Picking the largest loss would claim VaR = the worst loss (a false, larger VaR is
    # harmless to claim, but the constraints still pin t to the least tail member).
    statement = base_attestation(var_limit=10**40)
    signals: dict[str, Any] = statement.signals()
    pick = [0] * 20
    pick[ranked(statement)[0]] = 1
    signals["pick"] = pick
    assert not circuits[CIRCUIT].accepts(signals)


def test_pick_outside_the_tail_is_rejected(circuits: Checkers) -> None:
    # t = the (m+2)-th loss would understate VaR; the pick must be a tail member.
    statement = base_attestation()
    order, m = ranked(statement), statement.tail_count()
    signals: dict[str, Any] = replace(
        statement, var_limit=statement.losses()[order[m + 1]]
    ).signals()
    pick = [0] * 20
    pick[order[m + 1]] = 1
    signals["pick"] = pick
    assert not circuits[CIRCUIT].accepts(signals)


@pytest.mark.parametrize("field", ["tail", "pick"])
def test_non_boolean_selector_is_rejected(circuits: Checkers, field: str) -> None:
    signals: dict[str, Any] = base_attestation().signals()
    values = list(signals[field])
    values[values.index(1)] = 2
    signals[field] = values
    assert not circuits[CIRCUIT].accepts(signals)


def test_two_picks_are_rejected(circuits: Checkers) -> None:
    statement = base_attestation()
    signals: dict[str, Any] = statement.signals()
    signals["pick"] = list(signals["tail"])  # every tail member picked
    assert not circuits[CIRCUIT].accepts(signals)


def test_ties_at_the_var_boundary_accept_any_top_set(circuits: Checkers) -> None:
    # Every scenario equal: any m + 1 of them form the tail; VaR = ES = that loss.
    flat_returns = tuple((0, -10_000, 0, 0) for _ in range(20))
    probe = base_attestation(returns=flat_returns)
    statement = replace(probe, var_limit=probe.var(), es_limit=es_edge(probe))
    assert agree(circuits, statement)
    signals: dict[str, Any] = statement.signals()
    signals["tail"] = [0] * 17 + [1] * 3
    signals["pick"] = [0] * 19 + [1]
    assert circuits[CIRCUIT].accepts(signals)


def test_a_limit_breach_fails_the_whole_attestation(circuits: Checkers) -> None:
    capped = replace(
        PERMISSIVE, notional_cap=(PERMISSIVE.notional_cap[0], 1, *PERMISSIVE.notional_cap[2:])
    )
    statement = base_attestation(limits=base_limits(params=capped))
    statement = replace(statement, var_limit=statement.var(), es_limit=es_edge(statement))
    assert not agree(circuits, statement)


def test_tampered_commitment_is_rejected(circuits: Checkers) -> None:
    signals: dict[str, Any] = base_attestation().signals()
    signals["commitment"] += 1
    assert not circuits[CIRCUIT].accepts(signals)


@pytest.mark.parametrize(
    ("signal", "value"),
    [("long", 1 << 80), ("long", P - 1), ("short", P - 1), ("price", 1 << 64), ("price", P - 1)],
)
def test_out_of_range_or_aliased_position_is_rejected(
    circuits: Checkers, signal: str, value: int
) -> None:
    signals: dict[str, Any] = base_attestation().signals()
    signals[signal] = [signals[signal][0], value, *signals[signal][2:]]
    assert not circuits[CIRCUIT].accepts(signals)


def test_tail_witness_is_the_top_set_with_its_least_member_picked() -> None:
    witness = tail_witness([5, 9, 1, 9, 7], m=2)
    assert witness.tail == (0, 1, 0, 1, 1)
    assert witness.pick == (0, 0, 0, 0, 1)
