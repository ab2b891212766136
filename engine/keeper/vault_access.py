"""A handle on a deployed vault stack from its deployment record (build/deployments/<id>.json).

`CheckedVaultClient` passes every account address to web3 in checksum form: the engine keeps
addresses lower case (Portfolio.account), web3.py refuses those.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TypeVar, cast

from web3 import Web3
from web3.contract import Contract

from zkrisk.prover.artifacts import CircuitArtifacts, build
from zkrisk.prover.registry import get_circuit, load_registry

from ..chain.client import ChainClient
from ..chain.deployments import DeploymentRecord, deployed_artifacts, load_deployment
from ..chain.vault import VaultClient
from ..chain.vault_deploy import VaultStack, compile_vault_contracts
from ..chain.vault_types import AccountState, OnchainSnapshot, VaultPolicy
from ..paths import registry_path, repo_root
from ..risk.models import Asset
from ..statements.binding import Action

T = TypeVar("T")


class CheckedVaultClient(VaultClient):
    """VaultClient that accepts lower-case account addresses."""

    def account_state(self, account: str | None = None) -> AccountState:
        return super().account_state(_checksum(account))

    def escrow(self, account: str | None = None) -> int:
        return super().escrow(_checksum(account))

    def nonce(self, account: str | None = None) -> int:
        return super().nonce(_checksum(account))

    def proof_status(self, account: str) -> tuple[bool, int]:
        return super().proof_status(Web3.to_checksum_address(account))

    def public_signals(
        self,
        account: str,
        action: Action,
        amount: int,
        snapshot_id: int,
        commitment: int = 0,
        *,
        submitter: str | None = None,
        proven_margin: int = 0,
        hf_below_bps: int = 0,
    ) -> tuple[int, ...]:
        return super().public_signals(
            Web3.to_checksum_address(account), action, amount, snapshot_id, commitment,
            submitter=submitter, proven_margin=proven_margin, hf_below_bps=hf_below_bps,
        )  # fmt: skip

    def book_sequence(self, account: str | None = None) -> int:
        return super().book_sequence(_checksum(account))

    def attester_of(self, account: str | None = None) -> str:
        return super().attester_of(_checksum(account))

    def signed_by(self, chain: ChainClient) -> CheckedVaultClient:
        return checked(super().signed_by(chain))


def _checksum(account: str | None) -> str | None:
    return None if account is None else Web3.to_checksum_address(account)


def checked(client: VaultClient) -> CheckedVaultClient:
    return CheckedVaultClient(**{f.name: getattr(client, f.name) for f in fields(client)})


@dataclass(frozen=True)
class TickReads(CheckedVaultClient):
    """The keeper's view of the vault for one tick: what cannot change within it, or only by a
    governance or oracle event the next tick sees, is read once instead of once per account
    (a storm's keeper made ~12 round trips per account, half of them these). A snapshot by id
    never changes; a policy or grace period that changes mid-tick costs at worst one refused
    liquidation, which the failure rules already handle."""

    memo: dict[object, object] = field(default_factory=dict, compare=False, repr=False)

    def _once(self, key: object, read: Callable[[], T]) -> T:
        if key not in self.memo:
            self.memo[key] = read()
        return cast(T, self.memo[key])

    def policy(self) -> VaultPolicy:
        return self._once("policy", super().policy)

    def slots(self) -> int:
        return self._once("slots", super().slots)

    def token_decimals(self) -> int:
        return self._once("decimals", super().token_decimals)

    def grace_ends_at(self) -> int:
        return self._once("grace", super().grace_ends_at)

    def snapshot(self, snapshot_id: int | None = None) -> OnchainSnapshot:
        if snapshot_id is None:  # "the latest" may move within a tick
            return super().snapshot(None)
        return self._once(
            ("snapshot", snapshot_id), lambda: super(TickReads, self).snapshot(snapshot_id)
        )


def tick_reads(client: CheckedVaultClient) -> TickReads:
    """A fresh per-tick view of `client` (same node, signer and contracts)."""
    return TickReads(**{f.name: getattr(client, f.name) for f in fields(client)})


@dataclass(frozen=True)
class VaultHandle:
    """A deployment record, the circuit's artefacts and a signer's client on it."""

    record: DeploymentRecord
    artifacts: CircuitArtifacts
    client: CheckedVaultClient
    feeds: tuple[Contract, ...]
    """The listed assets' price feeds, in slot order (AggregatorV3Interface)."""

    def contract_address(self, name: str) -> str:
        return self.record.contracts[name]


def circuit_artifacts(name: str) -> CircuitArtifacts:
    spec = get_circuit(load_registry(registry_path()), name)
    return build(spec, repo_root(), log=lambda _line: None)


def open_vault(chain: ChainClient, folder: Path | None = None) -> VaultHandle:
    """The vault deployed on `chain`'s chain id, per its deployment record in `folder`."""
    record = load_deployment(chain.chain_id, folder)
    artifacts = deployed_artifacts(record, folder)  # the pinned setup, never a new one
    compiled = compile_vault_contracts(artifacts)
    for contract in compiled.values():
        chain.errors.register(contract.abi)

    def at(name: str, address: str) -> Contract:
        made = chain.w3.eth.contract(address=address, abi=compiled[name].abi)  # type: ignore[call-overload]
        return cast(Contract, made)

    client = CheckedVaultClient(
        chain,
        at("RiskVault", record.contracts["RiskVault"]),
        at("PriceBook", record.contracts["PriceBook"]),
        at("MockERC20", record.assets[0].token),  # any ERC-20 ABI with decimals()
    )
    feeds = tuple(at("MockAggregator", a.feed) for a in record.assets)  # AggregatorV3 + setAnswer
    return VaultHandle(record, artifacts, client, feeds)


def handle_from_stack(stack: VaultStack, chain: ChainClient | None = None) -> VaultHandle:
    """A handle on a stack deployed in this process, signing with `chain` (default: deployer)."""
    client = checked(stack.client(chain))
    feeds = tuple(stack.feeds[a.symbol] for a in stack.assets)
    artifacts = stack.artifacts or circuit_artifacts(stack.circuit)
    return VaultHandle(stack.record(), artifacts, client, feeds)


def slot_assets(record: DeploymentRecord, assets: Sequence[Asset]) -> tuple[Asset, ...]:
    """`assets` in the price book's slot order; ValueError naming a missing or mismatched one."""
    by_symbol = {a.symbol: a for a in assets}
    ordered = []
    for listed in record.assets:
        asset = by_symbol.get(listed.symbol)
        if asset is None:
            raise ValueError(f"the assets file has no {listed.symbol} (slot {listed.slot})")
        if asset.liquidation_threshold_bps != listed.liquidation_threshold_bps:
            raise ValueError(
                f"{listed.symbol}: liquidation threshold {asset.liquidation_threshold_bps} bps in "
                f"the assets file, {listed.liquidation_threshold_bps} listed on-chain"
            )
        ordered.append(asset)
    return tuple(ordered)
