"""PortfolioMargin(4, 8) end to end: real Groth16 proofs from the best backend verify under
snarkjs and the pure-Python verifier, and only for the public signals they were made for."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from tests.conftest import REPO
from zkrisk.prover import pyverify, snarkjs_cli
from zkrisk.prover.artifacts import CircuitArtifacts, build
from zkrisk.prover.backends import ProvingBackend, create_backend
from zkrisk.prover.errors import WitnessError
from zkrisk.prover.proof import Proof
from zkrisk.prover.registry import CircuitSpec

from .margin_cases import CIRCUIT, at_requirement, statement


@pytest.fixture(scope="module")
def artifacts(registry: dict[str, CircuitSpec]) -> CircuitArtifacts:
    return build(registry[CIRCUIT], REPO, log=lambda _line: None)


@pytest.fixture(scope="module")
def backend() -> Iterator[ProvingBackend]:
    made = create_backend()
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(scope="module")
def proof(artifacts: CircuitArtifacts, backend: ProvingBackend) -> Proof:
    return backend.prove(artifacts, at_requirement(statement()).signals())


def test_proof_at_the_requirement_carries_the_statements_public_signals(proof: Proof) -> None:
    assert proof.public_signals == at_requirement(statement()).public_signals()


def test_proof_verifies_under_snarkjs_and_the_pure_python_verifier(
    artifacts: CircuitArtifacts, proof: Proof
) -> None:
    assert snarkjs_cli.verify(artifacts.vkey, proof)
    assert pyverify.verify(artifacts.vkey, proof)


@pytest.mark.parametrize(("index", "change"), [(1, -1), (4, 1), (3, 1), (0, 1), (2, 1), (-1, -1)])
def test_proof_does_not_verify_for_other_public_signals(
    artifacts: CircuitArtifacts, proof: Proof, index: int, change: int
) -> None:
    # less margin held, another P&L entry, another minimum, another book, another action
    # binding, the last scenario of the last row
    signals = list(proof.public_signals)
    signals[index] += change
    assert not pyverify.verify(artifacts.vkey, proof.with_public_signals(tuple(signals)))


def test_proving_one_unit_below_the_requirement_fails_at_the_witness(
    artifacts: CircuitArtifacts, backend: ProvingBackend
) -> None:
    short = replace(at_requirement(statement()), margin_held=statement().requirement() - 1)
    with pytest.raises(WitnessError):
        backend.prove(artifacts, short.signals())
