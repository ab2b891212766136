"""Public signals by name: the same layout as the statement builders, named by domain field."""

from __future__ import annotations

from pathlib import Path

import pytest

from zkrisk.engine.files import load_assets, load_portfolio, load_prices, load_scenarios
from zkrisk.engine.paths import registry_path
from zkrisk.engine.prove_params import (
    ProveInputs,
    Statement,
    StatementKind,
    build_statement,
    load_params,
)
from zkrisk.engine.signal_fields import Signal, field_of, named_signals, threshold_mode_fields
from zkrisk.prover.registry import get_circuit, load_registry

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CIRCUITS = {"health": "health4", "limits": "limits4", "attest": "attest4x20"}


def example_statement(kind: str) -> Statement:
    inputs = ProveInputs(
        book=load_portfolio(EXAMPLES / "portfolio.toml"),
        snapshot=load_prices(EXAMPLES / "prices.toml"),
        assets=load_assets(EXAMPLES / "assets.toml"),
        params=load_params(str(EXAMPLES / "params.toml")),
        scenarios=load_scenarios(EXAMPLES / "scenarios20.csv"),
        salt=0x5EED,
    )
    spec = get_circuit(load_registry(registry_path()), CIRCUITS[kind])
    return build_statement(StatementKind(kind), spec, inputs)


@pytest.mark.parametrize("kind", list(CIRCUITS))
def test_named_signals_are_the_statements_public_signals_in_order(kind: str) -> None:
    statement = example_statement(kind)
    signals = named_signals(statement)
    assert tuple(s.value for s in signals) == statement.public_signals()
    assert signals[0].label == "commitment"


def test_named_signals_index_arrays_row_major() -> None:
    labels = [s.label for s in named_signals(example_statement("attest"))]
    assert labels[2:6] == ["price[0]", "price[1]", "price[2]", "price[3]"]
    assert labels[-1] == "returns[19][3]" and len(labels) == 2 + 4 + 4 + 2 + 3 + 80


@pytest.mark.parametrize("kind", list(CIRCUITS))
def test_a_known_commitment_replaces_only_the_commitment(kind: str) -> None:
    statement = example_statement(kind)
    mine, theirs = named_signals(statement), named_signals(statement, commitment=7)
    assert theirs[0].value == 7
    assert theirs[1:] == mine[1:]


@pytest.mark.parametrize(
    ("signal", "field"),
    [
        (Signal("price", (1,), 0), "prices.WETH"),
        (Signal("notionalCap", (2,), 0), "limits.notional_caps_usd.WBTC"),
        (Signal("notionalCap", (3,), 0), "limits.notional_caps_usd.slot3"),  # an unused slot
        (Signal("leverageBps", (), 0), "limits.leverage_bps"),
        (Signal("returns", (4, 1), 0), "scenarios"),
    ],
)
def test_field_of_names_the_expectation_field_and_the_slot_asset(
    signal: Signal, field: str
) -> None:
    assert field_of(signal, ("USDC", "WETH", "WBTC")) == field


def test_threshold_mode_fields_name_the_half_that_differs() -> None:
    at_least_105, below_105, at_least_100 = 10_500, 10_500 + (1 << 16), 10_000
    assert threshold_mode_fields(at_least_105, below_105) == ["health.mode"]
    assert threshold_mode_fields(at_least_105, at_least_100) == ["health.threshold_bps"]
    assert threshold_mode_fields(at_least_105, at_least_105) == []
