"""Circuit fixtures: compiled once per run (cached by content hash), checked through one warm
witness process per circuit — soundness tests need constraints, not proofs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import REPO
from zkrisk.prover.artifacts import CompiledCircuit, compile_circuit
from zkrisk.prover.registry import CircuitSpec
from zkrisk.prover.witness_check import WitnessChecker


class Checkers:
    """One WitnessChecker per circuit name, started on first use, stopped at session end."""

    def __init__(self, registry: dict[str, CircuitSpec]) -> None:
        self._registry = registry
        self._compiled: dict[str, CompiledCircuit] = {}
        self._checkers: dict[str, WitnessChecker] = {}

    def compiled(self, name: str) -> CompiledCircuit:
        if name not in self._compiled:
            spec = self._registry[name]
            self._compiled[name] = compile_circuit(spec, REPO, log=lambda _line: None)
        return self._compiled[name]

    def __getitem__(self, name: str) -> WitnessChecker:
        if name not in self._checkers:
            self._checkers[name] = WitnessChecker(self.compiled(name))
        return self._checkers[name]

    def close(self) -> None:
        for checker in self._checkers.values():
            checker.close()


@pytest.fixture(scope="session")
def circuits(registry: dict[str, CircuitSpec]) -> Iterator[Checkers]:
    checkers = Checkers(registry)
    try:
        yield checkers
    finally:
        checkers.close()
