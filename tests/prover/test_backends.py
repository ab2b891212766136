"""Every backend's proof verifies under snarkjs, under the pure-Python verifier and on-chain."""

from __future__ import annotations

from pathlib import Path

import pytest

from zkrisk.engine.chain.client import ChainClient
from zkrisk.engine.chain.deploy import HealthDeployment, deploy_health
from zkrisk.prover import pyverify, snarkjs_cli
from zkrisk.prover.artifacts import CircuitArtifacts
from zkrisk.prover.backends import (
    BACKEND_NAMES,
    CHOICES,
    ENV_VAR,
    NativeBackend,
    ProvingBackend,
    available_backends,
    create_backend,
)
from zkrisk.prover.binfmt import read_wtns_public
from zkrisk.prover.errors import BackendUnavailable
from zkrisk.prover.proof import Proof

from .cases import holding


@pytest.fixture(scope="module")
def proofs(health4: CircuitArtifacts, backends: dict[str, ProvingBackend]) -> dict[str, Proof]:
    """One proof per backend, each for a statement with its own binding."""
    return {
        name: backend.prove(health4, holding(nonce=i).signals())
        for i, (name, backend) in enumerate(backends.items())
    }


@pytest.fixture(scope="module")
def deployment(chain: ChainClient, health4: CircuitArtifacts) -> HealthDeployment:
    return deploy_health(chain, health4)


def test_every_backend_is_available_in_the_dev_install() -> None:
    assert available_backends() == list(BACKEND_NAMES)


@pytest.mark.parametrize("name", BACKEND_NAMES)
def test_proof_from_each_backend_carries_the_statements_public_signals(
    proofs: dict[str, Proof], name: str
) -> None:
    assert proofs[name].public_signals == holding(nonce=BACKEND_NAMES.index(name)).public_signals()


@pytest.mark.parametrize("name", BACKEND_NAMES)
def test_proof_from_each_backend_verifies_under_snarkjs(
    health4: CircuitArtifacts, proofs: dict[str, Proof], name: str
) -> None:
    assert snarkjs_cli.verify(health4.vkey, proofs[name])


@pytest.mark.parametrize("name", BACKEND_NAMES)
def test_proof_from_each_backend_verifies_under_the_pure_python_verifier(
    health4: CircuitArtifacts, proofs: dict[str, Proof], name: str
) -> None:
    assert pyverify.verify(health4.vkey, proofs[name])


@pytest.mark.parametrize("name", BACKEND_NAMES)
def test_proof_from_each_backend_is_accepted_on_chain_in_a_mined_transaction(
    deployment: HealthDeployment, proofs: dict[str, Proof], name: str
) -> None:
    assert deployment.verify_view(proofs[name])
    assert deployment.attest(proofs[name])["status"] == 1


def test_native_proof_from_the_cpp_witness_verifies(health4_cpp: CircuitArtifacts) -> None:
    with NativeBackend(witness="cpp") as backend:
        proof = backend.prove(health4_cpp, holding().signals())
    assert proof.public_signals == holding().public_signals()
    assert pyverify.verify(health4_cpp.vkey, proof)


def test_cpp_and_wasm_witnesses_are_byte_identical(
    health4_cpp: CircuitArtifacts, tmp_path: Path
) -> None:
    with NativeBackend(witness="cpp") as cpp, NativeBackend(witness="wasm") as wasm:
        a = cpp.calculate_witness(health4_cpp, holding().signals(), tmp_path / "cpp.wtns")
        b = wasm.calculate_witness(health4_cpp, holding().signals(), tmp_path / "wasm.wtns")
    assert a.read_bytes() == b.read_bytes()
    n_public = health4_cpp.compiled.info.n_public
    assert read_wtns_public(a, n_public) == holding().public_signals()


def test_native_proofs_of_the_same_statement_differ_because_they_are_blinded(
    health4: CircuitArtifacts, backends: dict[str, ProvingBackend]
) -> None:
    first = backends["native"].prove(health4, holding().signals())
    second = backends["native"].prove(health4, holding().signals())
    assert first.public_signals == second.public_signals
    assert (first.a, first.c) != (second.a, second.c)


def test_best_is_the_fastest_available_backend() -> None:
    with create_backend("best") as backend:
        assert backend.name == available_backends()[0] == "multicore"


def test_backend_named_by_the_environment_is_used_when_none_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_VAR, "snarkjs-cli")
    assert create_backend().name == "snarkjs-cli"


def test_unknown_backend_name_is_rejected_with_the_choices() -> None:
    with pytest.raises(ValueError, match="choose one of") as info:
        create_backend("rapidsnark")
    assert all(choice in str(info.value) for choice in CHOICES)


def test_cpp_witness_requested_for_a_circuit_without_one_says_how_to_build_it(
    health4: CircuitArtifacts, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(type(health4.compiled), "witness_binary", property(lambda _self: None))
    with (
        NativeBackend(witness="cpp") as backend,
        pytest.raises(BackendUnavailable, match="cpp=True"),
    ):
        backend.prove(health4, holding().signals())
