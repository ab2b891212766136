"""Every public input of every registered circuit is range-checked, or allow-listed with a reason.

A static check over the R1CS (prover/range_audit.py: circom --O1, interval analysis), not over
witnesses: it sees what the constraints allow for every value, not just the ones a test tried.
"""

from __future__ import annotations

import pytest

from tests.conftest import REPO
from zkrisk.prover.range_audit import InputBound, base_name, public_input_bounds, unbounded
from zkrisk.prover.registry import CircuitSpec, load_registry

from .large_circuits import per_circuit
from .public_input_bounds import ALLOWED_UNBOUNDED, RANGE_CHECKED

REGISTRY = load_registry(REPO / "circuits" / "circuits.json")


def planted(checked: int) -> CircuitSpec:
    return CircuitSpec(
        name=f"planted-range-check-{checked}", template="PlantedRangeCheck",
        file="tests/circuits/fixtures/PlantedRangeCheck.circom", params=(checked,),
        public=("x", "y"), budget=None,
    )  # fmt: skip


def by_name(bounds: list[InputBound]) -> dict[str, InputBound]:
    return {b.name: b for b in bounds}


@pytest.mark.parametrize("name", per_circuit(sorted(REGISTRY)))
def test_every_public_input_is_range_checked_or_allow_listed(name: str) -> None:
    spec = REGISTRY[name]
    bounds = public_input_bounds(spec, REPO)
    assert {base_name(b.name) for b in bounds} == set(spec.public)
    unlisted = set(spec.public) - RANGE_CHECKED.keys() - ALLOWED_UNBOUNDED.keys()
    assert not unlisted, f"{name}: say how {sorted(unlisted)} is bounded in public_input_bounds.py"
    assert unbounded(bounds, RANGE_CHECKED) == []


@pytest.mark.parametrize("name", per_circuit(sorted(REGISTRY)))
def test_allow_listed_inputs_are_the_ones_the_audit_cannot_bound(name: str) -> None:
    """An allow-list entry for an input that is now range-checked is stale: move it."""
    bounds = public_input_bounds(REGISTRY[name], REPO)
    stale = {base_name(b.name) for b in bounds if b.bits is not None} & ALLOWED_UNBOUNDED.keys()
    assert not stale


def test_audit_bounds_a_range_checked_input() -> None:
    bounds = by_name(public_input_bounds(planted(1), REPO))
    assert (bounds["x"].bits, bounds["y"].bits) == (8, 8)


def test_audit_reports_an_input_whose_range_check_was_removed() -> None:
    bounds = by_name(public_input_bounds(planted(0), REPO))
    assert bounds["x"].bits is None
    assert bounds["y"].bits == 8
    assert unbounded(bounds.values(), {"x": 8, "y": 8}) == ["x: unbounded, expected ≤ 8"]


def test_audit_reports_a_range_check_too_wide_for_its_input() -> None:
    bounds = public_input_bounds(planted(1), REPO)
    assert unbounded(bounds, {"x": 7}) == ["x: 8 bits, expected ≤ 7"]
