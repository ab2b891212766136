"""circomlibjs' generated Poseidon contract (EVM bytecode from `poseidonContract.createCode`).

The bytecode comes from scripts/poseidon_contract.cjs, i.e. from circomlibjs itself, so the
on-chain hash is circomlib's Poseidon by construction; the price book uses Poseidon(5) for
snapshot hashes and tests compare it with zkrisk.prover.poseidon.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from functools import cache
from typing import Any

from web3.contract import Contract

from zkrisk.prover.toolchain import ToolchainError, find_node_modules, node

from ..paths import repo_root
from .client import ChainClient
from .solidity import CompiledContract

SCRIPT = "scripts/poseidon_contract.cjs"


@dataclass(frozen=True)
class PoseidonContract:
    n_inputs: int
    abi: list[dict[str, Any]]
    bytecode: str  # creation code, 0x-prefixed
    circomlibjs: str  # the npm version that generated it

    def compiled(self) -> CompiledContract:
        return CompiledContract(f"Poseidon{self.n_inputs}", self.abi, self.bytecode)


@cache
def poseidon_contract(n_inputs: int = 5) -> PoseidonContract:
    """Generate the Poseidon(n_inputs) contract with circomlibjs (one node process, ~0.5 s)."""
    if not 1 <= n_inputs <= 8:
        raise ValueError(
            f"circomlibjs generates Poseidon contracts for 1..8 inputs, not {n_inputs}"
        )
    script = repo_root() / SCRIPT
    if not script.is_file():
        raise ToolchainError(f"{script} missing: run from a zkrisk checkout")
    proc = subprocess.run(
        [str(node()), str(script), str(n_inputs), str(find_node_modules())],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0:
        raise ToolchainError(
            f"{SCRIPT} failed ({proc.returncode}): {proc.stderr.strip()[-400:]}; "
            "is circomlibjs installed (`npm ci`)?"
        )
    data = json.loads(proc.stdout)
    return PoseidonContract(
        n_inputs=int(data["nInputs"]),
        abi=list(data["abi"]),
        bytecode=str(data["bytecode"]),
        circomlibjs=str(data["circomlibjs"]),
    )


def deploy_poseidon(client: ChainClient, n_inputs: int = 5) -> Contract:
    return client.deploy(poseidon_contract(n_inputs).compiled())
