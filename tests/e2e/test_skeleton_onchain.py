"""The walking skeleton: engine → Health proof → Groth16 verifier on a real Anvil node."""

from __future__ import annotations

from dataclasses import replace

import pytest

from zkrisk.engine.chain.anvil import AnvilNode
from zkrisk.engine.chain.client import ChainClient, TransactionReverted
from zkrisk.engine.chain.deploy import HealthDeployment, deploy_health
from zkrisk.engine.statements.binding import Action, action_binding
from zkrisk.prover import snarkjs_cli
from zkrisk.prover.artifacts import CircuitArtifacts
from zkrisk.prover.field import SNARK_SCALAR_FIELD
from zkrisk.prover.proof import Proof

from ..circuits.health_cases import base_statement


@pytest.fixture(scope="module")
def deployment(chain: ChainClient, health4: CircuitArtifacts) -> HealthDeployment:
    return deploy_health(chain, health4)


@pytest.fixture(scope="module")
def proof(health4: CircuitArtifacts, deployment: HealthDeployment, chain: ChainClient) -> Proof:
    binding = action_binding(
        chain_id=chain.chain_id, vault=deployment.attestor.address, account=chain.account.address,
        action=Action.ATTEST, amount=0, nonce=0, snapshot_id=7, submitter=chain.account.address,
    )  # fmt: skip
    statement = replace(base_statement(), binding=binding)
    made = snarkjs_cli.prove(health4, statement.signals())
    assert made.public_signals == statement.public_signals()
    return made


def test_valid_proof_verifies_off_chain_and_on_chain(
    health4: CircuitArtifacts, deployment: HealthDeployment, proof: Proof
) -> None:
    assert snarkjs_cli.verify(health4.vkey, proof)
    assert deployment.verify_view(proof)


def test_tampered_proof_is_rejected(deployment: HealthDeployment, proof: Proof) -> None:
    tampered = replace(proof, c=(proof.a[0], proof.a[1]))
    assert not deployment.verify_view(tampered)
    with pytest.raises(TransactionReverted, match="HealthAttestor__InvalidProof"):
        deployment.attest(tampered)


@pytest.mark.parametrize("index", range(5))
def test_each_tampered_public_input_is_rejected(
    deployment: HealthDeployment, proof: Proof, index: int
) -> None:
    signals = list(proof.public_signals)
    signals[index] = (signals[index] + 1) % SNARK_SCALAR_FIELD
    tampered = proof.with_public_signals(tuple(signals))
    assert not deployment.verify_view(tampered)
    with pytest.raises(TransactionReverted, match="HealthAttestor__InvalidProof"):
        deployment.attest(tampered)


def test_public_input_plus_field_order_is_rejected(
    deployment: HealthDeployment, proof: Proof
) -> None:
    signals = list(proof.public_signals)
    signals[2] += SNARK_SCALAR_FIELD  # same value mod r: must not pass as the original
    with pytest.raises(TransactionReverted, match="Groth16Calldata__PublicInputNotInField"):
        deployment.attest(proof.with_public_signals(tuple(signals)))


def test_valid_proof_is_accepted_in_a_mined_transaction_once(
    deployment: HealthDeployment, proof: Proof
) -> None:
    receipt = deployment.attest(proof)
    assert receipt["status"] == 1
    assert deployment.attestor.functions.consumed(proof.public_signals[4]).call()
    with pytest.raises(TransactionReverted, match="HealthAttestor__BindingReused"):
        deployment.attest(proof)


def test_anvil_is_stopped_when_the_node_is_released(anvil_node: AnvilNode) -> None:
    from zkrisk.engine.chain.anvil import start_anvil

    extra = start_anvil()
    extra.stop()
    assert extra.process.poll() is not None
    assert anvil_node.process.poll() is None  # the module's node is still serving
