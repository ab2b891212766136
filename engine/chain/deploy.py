"""Deploy a generated Health verifier and the HealthAttestor gate in front of it."""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from web3.contract import Contract
from web3.types import TxReceipt

from zkrisk.prover.artifacts import CircuitArtifacts
from zkrisk.prover.proof import Proof

from ..paths import contracts_src
from .client import ChainClient
from .solidity import CompiledContract, compile_sources


def install_verifier(artifacts: CircuitArtifacts) -> str:
    """Copy the generated verifier into contracts/src/generated/; returns its source unit name."""
    target = contracts_src() / "generated" / artifacts.verifier_sol.name
    if not target.exists() or target.read_bytes() != artifacts.verifier_sol.read_bytes():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(artifacts.verifier_sol, target)
    return f"src/generated/{target.name}"


def compile_health_contracts(artifacts: CircuitArtifacts) -> dict[str, CompiledContract]:
    verifier_unit = install_verifier(artifacts)
    src = contracts_src()
    return compile_sources(
        {
            verifier_unit: src.parent / verifier_unit,
            "src/HealthAttestor.sol": src / "HealthAttestor.sol",
        },
        base=src.parent,
    )


@dataclass
class HealthDeployment:
    client: ChainClient
    verifier: Contract
    attestor: Contract

    def attest(self, proof: Proof) -> TxReceipt:
        words, public = proof.calldata()
        return self.client.transact(self.attestor.functions.attest(words, public))

    def verify_view(self, proof: Proof) -> bool:
        words, public = proof.calldata()
        pa, pb, pc = (
            [words[0], words[1]],
            [[words[2], words[3]], [words[4], words[5]]],
            [words[6], words[7]],
        )
        return bool(self.verifier.functions.verifyProof(pa, pb, pc, public).call())


def deploy_health(client: ChainClient, artifacts: CircuitArtifacts) -> HealthDeployment:
    compiled = compile_health_contracts(artifacts)
    verifier = client.deploy(compiled[artifacts.spec.contract_name])
    attestor = client.deploy(compiled["HealthAttestor"], verifier.address)
    return HealthDeployment(client, verifier, attestor)
