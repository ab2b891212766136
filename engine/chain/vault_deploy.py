"""Compile and deploy the vault stack: Poseidon(5), PriceBook, the Health verifier, RiskVault.

On a dev chain, assets without a token or feed get a MockERC20 / MockAggregator. The result can
be written as a deployment record (build/deployments/<chainId>.json), which pins the setup the
verifier was generated from (its folder and the sha256 of its zkey and verification key).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_utils.address import to_checksum_address
from web3.contract import Contract

from zkrisk.prover.artifacts import CircuitArtifacts

from ..models import Asset
from ..paths import contracts_src, repo_root
from .client import ChainClient
from .deploy import install_verifier
from .deployments import DeployedAsset, DeploymentRecord, save_deployment
from .pinned_setup import pin_of
from .poseidon_contract import deploy_poseidon
from .solidity import CompiledContract, compile_sources
from .vault import VaultClient
from .vault_types import ListedAsset, VaultPolicy, feed_answer

VAULT_SOURCES = (
    "RiskVault.sol",
    "PriceBook.sol",
    "mocks/MockERC20.sol",
    "mocks/MockAggregator.sol",
    "mocks/ReentrantToken.sol",
    "mocks/HealthVerifierHarness.sol",
)


def compile_vault_contracts(artifacts: CircuitArtifacts) -> dict[str, CompiledContract]:
    """Install the circuit's verifier into contracts/src/generated/ and compile (cached)."""
    verifier_unit = install_verifier(artifacts)
    src = contracts_src()
    units = {f"src/{name}": src / name for name in VAULT_SOURCES}
    units[verifier_unit] = src.parent / verifier_unit
    return compile_sources(units, base=src.parent, cache=repo_root() / "build" / "solc")


def at(chain: ChainClient, address: str, abi: list[dict[str, Any]]) -> Contract:
    """A contract handle at `address` (any case) with `abi`."""
    return chain.w3.eth.contract(address=to_checksum_address(address), abi=abi)


@dataclass
class VaultStack:
    """A deployed vault stack; `chain` is the deployer, who holds every admin role."""

    chain: ChainClient
    compiled: dict[str, CompiledContract]
    circuit: str
    dev_ptau: bool
    poseidon: Contract
    price_book: Contract
    verifier: Contract
    vault: Contract
    assets: tuple[Asset, ...]
    tokens: dict[str, Contract] = field(default_factory=dict)
    feeds: dict[str, Contract] = field(default_factory=dict)
    block: int = 0
    artifacts: CircuitArtifacts | None = None
    """The setup the verifier was generated from: proofs for this stack use exactly its zkey."""

    @property
    def margin_token(self) -> Contract:
        return self.tokens[self.assets[0].symbol]

    def client(self, chain: ChainClient | None = None) -> VaultClient:
        return VaultClient(chain or self.chain, self.vault, self.price_book, self.margin_token)

    def contract(self, name: str, address: str) -> Contract:
        """A handle on another contract of the compiled set at `address`."""
        return at(self.chain, address, self.compiled[name].abi)

    def set_price(self, symbol: str, price: Decimal) -> None:
        """Publish a new mock feed answer for `symbol` (dev chains)."""
        feed = self.feeds[symbol]
        decimals = int(feed.functions.decimals().call())
        self.chain.transact(feed.functions.setAnswer(feed_answer(price, decimals)))

    def record(self) -> DeploymentRecord:
        contracts = {
            "Poseidon5": str(self.poseidon.address),
            "PriceBook": str(self.price_book.address),
            self.verifier_name: str(self.verifier.address),
            "RiskVault": str(self.vault.address),
        }
        assets = tuple(
            DeployedAsset(
                slot=i,
                symbol=a.symbol,
                token=str(self.tokens[a.symbol].address),
                feed=str(self.feeds[a.symbol].address),
                liquidation_threshold_bps=a.liquidation_threshold_bps,
            )
            for i, a in enumerate(self.assets)
        )
        pin = None if self.artifacts is None else pin_of(self.artifacts)
        return DeploymentRecord(
            chain_id=self.chain.chain_id,
            deployer=str(self.chain.account.address),
            block=self.block,
            circuit=self.circuit,
            dev_ptau=self.dev_ptau,
            setup=None if pin is None else pin.setup,
            zkey_sha256=None if pin is None else pin.zkey_sha256,
            vkey_sha256=None if pin is None else pin.vkey_sha256,
            contracts=contracts,
            assets=assets,
        )

    @property
    def verifier_name(self) -> str:
        return self.circuit[:1].upper() + self.circuit[1:] + "Verifier"


def deploy_vault_stack(
    chain: ChainClient,
    artifacts: CircuitArtifacts,
    *,
    listed: Sequence[ListedAsset],
    policy: VaultPolicy,
    price_book_max_age: int,
    guardian: str | None = None,
    beneficiary: str | None = None,
    save_to: Path | None = None,
) -> VaultStack:
    """Deploy Poseidon(5), a PriceBook listing `listed` (slot 0 = margin), the verifier and the
    vault. `chain` becomes admin (and guardian / beneficiary unless given). With `save_to`, the
    deployment record is written to `save_to/<chainId>.json`."""
    if not listed:
        raise ValueError("list at least the margin asset (slot 0)")
    slots = artifacts.spec.params[0]
    if len(listed) > slots:
        raise ValueError(f"{len(listed)} assets do not fit the {slots}-slot {artifacts.spec.name}")
    compiled = compile_vault_contracts(artifacts)
    for contract in compiled.values():
        chain.errors.register(contract.abi)
    me = chain.account.address
    poseidon = deploy_poseidon(chain)
    price_book = chain.deploy(
        compiled["PriceBook"], slots, poseidon.address, me, price_book_max_age
    )
    tokens: dict[str, Contract] = {}
    feeds: dict[str, Contract] = {}
    for item in listed:
        symbol = item.asset.symbol
        tokens[symbol] = _token(chain, compiled, item)
        feeds[symbol] = _feed(chain, compiled, item)
        fn = price_book.functions.listAsset(
            tokens[symbol].address, feeds[symbol].address, item.asset.liquidation_threshold_bps
        )
        chain.transact(fn)
    verifier = chain.deploy(compiled[artifacts.spec.contract_name])
    margin = tokens[listed[0].asset.symbol]
    vault = _deploy_vault(
        chain, compiled["RiskVault"], (verifier, price_book, margin),
        policy=policy, guardian=guardian or me, beneficiary=beneficiary or me,
    )  # fmt: skip
    stack = VaultStack(
        chain=chain,
        compiled=compiled,
        circuit=artifacts.spec.name,
        dev_ptau=artifacts.dev_ptau,
        poseidon=poseidon,
        price_book=price_book,
        verifier=verifier,
        vault=vault,
        assets=tuple(item.asset for item in listed),
        tokens=tokens,
        feeds=feeds,
        block=int(chain.w3.eth.block_number),
        artifacts=artifacts,
    )
    if save_to is not None:
        save_deployment(stack.record(), save_to)
    return stack


def deploy_vault(
    stack: VaultStack, *, policy: VaultPolicy, guardian: str, beneficiary: str
) -> Contract:
    """Another RiskVault over the stack's verifier, price book and margin token."""
    wiring = (stack.verifier, stack.price_book, stack.margin_token)
    return _deploy_vault(
        stack.chain, stack.compiled["RiskVault"], wiring,
        policy=policy, guardian=guardian, beneficiary=beneficiary,
    )  # fmt: skip


def _deploy_vault(
    chain: ChainClient,
    compiled: CompiledContract,
    wiring: tuple[Contract, Contract, Contract],
    *,
    policy: VaultPolicy,
    guardian: str,
    beneficiary: str,
) -> Contract:
    verifier, price_book, token = wiring
    return chain.deploy(
        compiled, verifier.address, price_book.address, token.address,
        chain.account.address, guardian, beneficiary, policy.as_tuple(),
    )  # fmt: skip


def _token(
    chain: ChainClient, compiled: dict[str, CompiledContract], item: ListedAsset
) -> Contract:
    abi = compiled["MockERC20"].abi
    if item.token is not None:
        return at(chain, item.token, abi)
    a = item.asset
    return chain.deploy(compiled["MockERC20"], f"Mock {a.symbol}", a.symbol, a.decimals)


def _feed(chain: ChainClient, compiled: dict[str, CompiledContract], item: ListedAsset) -> Contract:
    abi = compiled["MockAggregator"].abi
    if item.feed is not None:
        return at(chain, item.feed, abi)
    if item.price is None:
        raise ValueError(f"{item.asset.symbol}: a mock feed needs an initial price")
    feed = chain.deploy(
        compiled["MockAggregator"], item.feed_decimals, f"{item.asset.symbol} / USD"
    )
    chain.transact(feed.functions.setAnswer(feed_answer(item.price, item.feed_decimals)))
    return feed
