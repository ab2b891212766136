"""Deployment records: one JSON file per chain id (build/deployments/<chainId>.json)."""

from __future__ import annotations

import json
from pathlib import Path

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from pydantic import BaseModel, ConfigDict, Field

from zkrisk.prover.artifacts import CircuitArtifacts

from ..paths import repo_root
from .pinned_setup import SetupPin, pinned_artifacts


class DeployedAsset(BaseModel):
    """One price-book slot as deployed."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    slot: int = Field(ge=0)
    """Slot index (the Health circuit's order; 0 = margin token)."""
    symbol: str
    """The engine's symbol for the asset."""
    token: str
    """ERC-20 address."""
    feed: str
    """The primary AggregatorV3Interface feed's address."""
    secondary_feed: str | None = None
    """The secondary feed's address (used when the primary fails), if any."""
    liquidation_threshold_bps: int = Field(ge=0, le=10_000)
    """Liquidation threshold listed in the price book."""


class GovernanceRecord(BaseModel):
    """Who governs the stack: a Safe (owners, threshold) behind a timelock (delay)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    owners: tuple[str, ...]
    """The Safe's owners."""
    threshold: int = Field(ge=1)
    """Owner signatures a Safe transaction needs."""
    delay: int = Field(ge=0)
    """The timelock's minimum delay, seconds."""
    guardian: str
    """The key that may pause the vault (and nothing else)."""


class DeploymentRecord(BaseModel):
    """Where a vault stack lives on one chain, and what it was built from."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    chain_id: int = Field(gt=0)
    """EIP-155 chain id."""
    deployer: str
    """Account that sent the deployment transactions."""
    block: int = Field(ge=0)
    """Block of the vault's deployment."""
    circuit: str
    """Registry name of the Health circuit whose verifier is deployed, e.g. 'health4'."""
    dev_ptau: bool
    """True when the verifier comes from a development ptau (insecure, not for real funds)."""
    setup: str | None = None
    """The circuit's setup folder (repo-relative) whose zkey the verifier was generated from."""
    zkey_sha256: str | None = Field(default=None, pattern="^[0-9a-f]{64}$")
    """sha256 of that proving key: proofs for this deployment are made with exactly this zkey."""
    vkey_sha256: str | None = Field(default=None, pattern="^[0-9a-f]{64}$")
    """sha256 of the verification key (verification_key.json) the verifier encodes."""
    contracts: dict[str, str]
    """Contract name → address: Poseidon5, PriceBook, <Name>Verifier, RiskVault, margin token."""
    assets: tuple[DeployedAsset, ...]
    """Listed assets in slot order."""
    governance: GovernanceRecord | None = None
    """The Safe and timelock holding every admin role (None: the deployer is the admin)."""
    attester: str | None = None
    """Default book attester for new desks (`chain govern propose set-attester`)."""

    @property
    def setup_pin(self) -> SetupPin | None:
        """The pinned setup; None for a record written before setups were pinned."""
        if self.setup is None or self.zkey_sha256 is None or self.vkey_sha256 is None:
            return None
        return SetupPin(self.setup, self.zkey_sha256, self.vkey_sha256)


def deployments_dir() -> Path:
    return repo_root() / "build" / "deployments"


def deployment_path(chain_id: int, folder: Path | None = None) -> Path:
    return (folder or deployments_dir()) / f"{chain_id}.json"


def save_deployment(record: DeploymentRecord, folder: Path | None = None) -> Path:
    path = deployment_path(record.chain_id, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record.model_dump(mode="json"), indent=2) + "\n")
    return path


def load_deployment(chain_id: int, folder: Path | None = None) -> DeploymentRecord:
    path = deployment_path(chain_id, folder)
    if not path.is_file():
        raise FileNotFoundError(
            f"no deployment for chain {chain_id} at {path}: deploy first "
            "(zkrisk.engine.chain.vault_deploy.deploy_vault_stack)"
        )
    return DeploymentRecord.model_validate_json(path.read_text())


def deployed_artifacts(record: DeploymentRecord, folder: Path | None = None) -> CircuitArtifacts:
    """The exact setup `record`'s verifier was made from (SetupMismatch, naming the fix, if gone)."""
    where = str(deployment_path(record.chain_id, folder))
    return pinned_artifacts(record.circuit, record.setup_pin, deployment=where)


def _rlp_uint(n: int) -> bytes:
    if n == 0:
        return b"\x80"
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return raw if len(raw) == 1 and raw[0] < 0x80 else bytes([0x80 + len(raw)]) + raw


def create_address(deployer: str, nonce: int) -> str:
    """Address of the contract `deployer` creates with its `nonce`-th transaction (CREATE)."""
    if not 0 <= nonce < 2**64:
        raise ValueError(f"nonce {nonce} outside [0, 2^64)")
    body = b"\x94" + bytes.fromhex(to_checksum_address(deployer)[2:]) + _rlp_uint(nonce)
    return to_checksum_address(keccak(bytes([0xC0 + len(body)]) + body)[12:])
