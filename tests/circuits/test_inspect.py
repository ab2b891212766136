"""`circom --inspect` finds nothing in any registered template — and does find a planted bug.

circheck (PyPI 0.3.0) runs over the templates it can parse (test_circheck.py) but not over those
that include circomlib's Poseidon, so the inspector is the static check for every circuit.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from zkrisk.prover.circom_inspect import inspect_circuit
from zkrisk.prover.registry import CircuitSpec, load_registry

REPO = Path(__file__).resolve().parents[2]


def smallest_per_template() -> list[CircuitSpec]:
    """One instance per template (the smallest): the inspector's findings do not depend on N."""
    chosen: dict[str, CircuitSpec] = {}
    for spec in load_registry(REPO / "circuits" / "circuits.json").values():
        best = chosen.get(spec.template)
        if best is None or spec.params < best.params:
            chosen[spec.template] = spec
    return sorted(chosen.values(), key=lambda s: s.name)


@pytest.mark.parametrize("spec", smallest_per_template(), ids=lambda s: s.name)
def test_registered_circuit_has_no_inspector_findings(spec: CircuitSpec) -> None:
    assert inspect_circuit(spec, REPO) == []


def test_inspector_reports_an_unconstrained_signal() -> None:
    planted = CircuitSpec(
        name="planted-unconstrained",
        template="Unconstrained",
        file="tests/circuits/fixtures/Unconstrained.circom",
        params=(),
        public=(),
        budget=None,
    )
    findings = inspect_circuit(planted, REPO)
    assert findings, "the inspector must flag a signal assigned with <-- and never constrained"
