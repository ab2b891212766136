"""Every registered circuit compiles within its constraint budget; an exceeded budget fails."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.conftest import REPO
from zkrisk.prover.artifacts import BudgetExceeded, compile_circuit
from zkrisk.prover.registry import CircuitSpec, load_registry

from .large_circuits import per_circuit

REGISTRY = load_registry(REPO / "circuits" / "circuits.json")


@pytest.mark.parametrize("spec", per_circuit(REGISTRY.values(), lambda s: s.name))
def test_registered_circuit_is_within_its_budget(spec: CircuitSpec) -> None:
    compiled = compile_circuit(spec, REPO, log=lambda _line: None)
    assert spec.budget is not None, f"{spec.name} has no budget in circuits/circuits.json"
    assert compiled.info.n_constraints <= spec.budget


def test_health16_meets_the_per_slot_budget() -> None:
    compiled = compile_circuit(REGISTRY["health16"], REPO, log=lambda _line: None)
    assert compiled.info.n_constraints <= 400 * 16 + 2_000


def test_attestation_16x250_fits_a_2_to_the_16_setup() -> None:
    compiled = compile_circuit(REGISTRY["attest16x250"], REPO, log=lambda _line: None)
    assert compiled.info.n_constraints <= 65_536
    # snarkjs needs constraints + public signals + 1 domain rows.
    assert compiled.info.min_ptau_power <= 16


def test_build_fails_when_a_budget_is_exceeded() -> None:
    tight = replace(REGISTRY["limits4"], budget=1_000)
    with pytest.raises(
        BudgetExceeded, match=r"limits4: 3,1[0-9]{2} constraints exceed the budget of 1,000"
    ):
        compile_circuit(tight, REPO, log=lambda _line: None)
