"""Constraint counts of every registered circuit (after circom --O2, as `snarkjs r1cs info`)."""

from __future__ import annotations

from zkrisk.engine.paths import registry_path, repo_root
from zkrisk.prover.artifacts import compile_circuit
from zkrisk.prover.registry import load_registry

from .common import Metric, metric


def run() -> dict[str, Metric]:
    results: dict[str, Metric] = {}
    for name, spec in load_registry(registry_path()).items():
        info = compile_circuit(spec, repo_root(), log=lambda _line: None).info
        budget = f"budget {spec.budget:,}; " if spec.budget is not None else ""
        note = f"{budget}{spec.template}{list(spec.params)}, {info.n_public_inputs} public inputs"
        results[f"{name}_constraints"] = metric(info.n_constraints, "constraints", 1, note)
    return results
