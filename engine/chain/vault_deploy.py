"""Compile and deploy the vault stack: Poseidon(5), PriceBook, the Health verifier, RiskVault,
optionally behind governance (a Safe proposing to a timelock that holds every admin role).

On a dev chain, assets without a token or feed get a MockERC20 / MockAggregator (and a mock
secondary feed when the listing asks for one). The result can be written as a deployment record
(build/deployments/<chainId>.json), which pins the setup the verifier was generated from (its
folder and the sha256 of its zkey and verification key).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_utils.address import to_checksum_address
from web3.contract import Contract

from zkrisk.prover.artifacts import CircuitArtifacts

from ..paths import contracts_src, repo_root
from ..risk.models import Asset
from .client import ChainClient
from .deploy import install_verifier
from .deployments import DeployedAsset, DeploymentRecord, GovernanceRecord, save_deployment
from .governance import Governance, calldata
from .pinned_setup import pin_of
from .poseidon_contract import deploy_poseidon
from .solidity import CompiledContract, compile_sources
from .vault import VaultClient
from .vault_types import ListedAsset, Liveness, VaultPolicy, feed_answer, struct_values

#: AccessControlDefaultAdminRules' delay of an admin transfer (two-step), seconds.
ADMIN_TRANSFER_DELAY = 86_400
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"

VAULT_SOURCES = (
    "RiskVault.sol",
    "PriceBook.sol",
    "mocks/MockERC20.sol",
    "mocks/MockAggregator.sol",
    "mocks/MockSequencerUptimeFeed.sol",
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
    """A deployed vault stack. `chain` is the deployer: the admin of a stack without governance;
    with `governance`, the timelock is the admin and the deployer holds no role."""

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
    secondary_feeds: dict[str, Contract] = field(default_factory=dict)
    governance: Governance | None = None
    owner_keys: tuple[str, ...] = ()
    """Dev chains: keys of `threshold` Safe owners, so helpers can pass governance actions."""
    guardian: str = ""
    sequencer: Contract | None = None
    """The mock L2 sequencer-uptime feed (dev chains deployed with `l2_sequencer`)."""

    def govern(self, target: Contract, fn: Any) -> None:
        """Run an admin call: directly without governance, else Safe → timelock, advancing
        Anvil's clock past the delay (dev chains only)."""
        if self.governance is None:
            self.chain.transact(fn)
            return
        gov, data = self.governance, calldata(fn)
        gov.propose(str(target.address), data, self.owner_keys)
        advance_time(self.chain, gov.min_delay + 1)
        self.refresh_feeds()  # the oracles kept publishing while the delay passed
        gov.execute(str(target.address), data, self.owner_keys)

    def refresh_feeds(self) -> None:
        """Republish every mock feed's latest answer (a new round at the chain's time)."""
        for feed in (*self.feeds.values(), *self.secondary_feeds.values()):
            answer = int(feed.functions.latestRoundData().call()[1])
            self.chain.transact(feed.functions.setAnswer(answer))

    def set_attester(self, account: str, attester: str) -> None:
        self.govern(self.vault, self.vault.functions.setAttester(account, attester))

    def set_policy(self, policy: VaultPolicy) -> None:
        self.govern(self.vault, self.client().set_policy_call(policy))

    @property
    def margin_token(self) -> Contract:
        return self.tokens[self.assets[0].symbol]

    def client(self, chain: ChainClient | None = None) -> VaultClient:
        return VaultClient(chain or self.chain, self.vault, self.price_book, self.margin_token)

    def contract(self, name: str, address: str) -> Contract:
        """A handle on another contract of the compiled set at `address`."""
        return at(self.chain, address, self.compiled[name].abi)

    def set_price(self, symbol: str, price: Decimal) -> None:
        """Publish a new mock feed answer for `symbol` on its primary and secondary, then move
        Anvil's clock one second on (dev chains): Anvil mines many blocks per second and judges
        a call at the latest block's time, so without it a snapshot of the new price could be
        refused by the price book's one-per-`minSnapshotInterval` limit until someone mines."""
        for feed in (self.feeds[symbol], self.secondary_feeds.get(symbol)):
            if feed is not None:
                decimals = int(feed.functions.decimals().call())
                self.chain.transact(feed.functions.setAnswer(feed_answer(price, decimals)))
        advance_time(self.chain, 1)

    def record(self) -> DeploymentRecord:
        contracts = {
            "Poseidon5": str(self.poseidon.address),
            "PriceBook": str(self.price_book.address),
            self.verifier_name: str(self.verifier.address),
            "RiskVault": str(self.vault.address),
        }
        governance = None
        if self.governance is not None:
            gov = self.governance
            contracts["Safe"] = str(gov.safe.address)
            contracts["TimelockController"] = str(gov.timelock.address)
            governance = GovernanceRecord(owners=gov.owners, threshold=gov.threshold,
                                          delay=gov.min_delay, guardian=self.guardian)  # fmt: skip
        assets = tuple(
            DeployedAsset(
                slot=i,
                symbol=a.symbol,
                token=str(self.tokens[a.symbol].address),
                feed=str(self.feeds[a.symbol].address),
                secondary_feed=(
                    str(self.secondary_feeds[a.symbol].address)
                    if a.symbol in self.secondary_feeds
                    else None
                ),
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
            governance=governance,
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
    liveness: Liveness | None = None,
    governance: Governance | None = None,
    owner_keys: Sequence[str] = (),
    guardian: str | None = None,
    beneficiary: str | None = None,
    save_to: Path | None = None,
    l2_sequencer: bool = False,
) -> VaultStack:
    """Deploy Poseidon(5), a PriceBook listing `listed` (slot 0 = margin) at construction, the
    verifier and the vault. The admin of both (DEFAULT_ADMIN_ROLE with a two-step transfer,
    ORACLE_ADMIN_ROLE, RISK_ADMIN_ROLE) is `governance`'s timelock, or without governance the
    deployer (dev stacks and tests). `guardian` (pause only) and `beneficiary` default to the
    deployer. `l2_sequencer` (dev chains) deploys a MockSequencerUptimeFeed, up, as the price
    book's L2 sequencer feed (grace: `liveness.sequencer_grace`, default 300 s). With `save_to`,
    the deployment record is written to `save_to/<chainId>.json`."""
    if not listed:
        raise ValueError("list at least the margin asset (slot 0)")
    slots = artifacts.spec.params[0]
    if len(listed) > slots:
        raise ValueError(f"{len(listed)} assets do not fit the {slots}-slot {artifacts.spec.name}")
    compiled = compile_vault_contracts(artifacts)
    for contract in compiled.values():
        chain.errors.register(contract.abi)
    me = chain.account.address
    admin = me if governance is None else str(governance.timelock.address)
    poseidon = deploy_poseidon(chain)
    tokens: dict[str, Contract] = {}
    feeds: dict[str, Contract] = {}
    secondaries: dict[str, Contract] = {}
    configs: list[tuple[Any, ...]] = []
    book_abi = compiled["PriceBook"].abi
    for item in listed:
        symbol = item.asset.symbol
        tokens[symbol] = _token(chain, compiled, item)
        feeds[symbol] = _feed(chain, compiled, item)
        secondary = _secondary_feed(chain, compiled, item)
        if secondary is not None:
            secondaries[symbol] = secondary
        configs.append(_asset_config(book_abi, item, feeds[symbol], secondary))
    live = liveness or Liveness()
    sequencer = None
    if l2_sequencer:
        sequencer = chain.deploy(compiled["MockSequencerUptimeFeed"])
        live = replace(live, sequencer_feed=str(sequencer.address),
                       sequencer_grace=live.sequencer_grace or 300)  # fmt: skip
    price_book = chain.deploy(
        compiled["PriceBook"], slots, poseidon.address, admin, ADMIN_TRANSFER_DELAY,
        struct_values(_ctor_components(book_abi, "liveness"), live.as_dict()),
        [t.address for t in tokens.values()], configs,
    )  # fmt: skip
    verifier = chain.deploy(compiled[artifacts.spec.contract_name])
    margin = tokens[listed[0].asset.symbol]
    vault = _deploy_vault(
        chain, compiled["RiskVault"], (verifier, price_book, margin), policy=policy, admin=admin,
        guardian=guardian or me, beneficiary=beneficiary or me,
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
        secondary_feeds=secondaries,
        governance=governance,
        owner_keys=tuple(owner_keys),
        guardian=guardian or me,
        sequencer=sequencer,
    )
    if save_to is not None:
        save_deployment(stack.record(), save_to)
    return stack


def advance_time(chain: ChainClient, seconds: int) -> None:
    """Anvil: move the clock `seconds` ahead and mine a block (dev chains only)."""
    chain.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def _ctor_components(abi: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    (ctor,) = (item for item in abi if item.get("type") == "constructor")
    (param,) = (i for i in ctor["inputs"] if i["name"].strip("_") == name)
    components: list[dict[str, Any]] = param["components"]
    return components


def _asset_config(
    abi: list[dict[str, Any]], item: ListedAsset, primary: Contract, secondary: Contract | None
) -> tuple[Any, ...]:
    """PriceBook.AssetConfig for one listing, in the ABI's field order."""
    values = {
        "primary": primary.address,
        "primary_heartbeat": item.heartbeat,
        "secondary": ZERO_ADDRESS if secondary is None else secondary.address,
        "secondary_heartbeat": 0 if secondary is None else item.secondary_heartbeat,
        "min_answer": item.min_answer,
        "max_answer": item.max_answer,
        "max_deviation_bps": 0 if secondary is None else item.max_deviation_bps,
        "liquidation_threshold_bps": item.asset.liquidation_threshold_bps,
    }
    return struct_values(_ctor_components(abi, "assets"), values)


def deploy_vault(
    stack: VaultStack, *, policy: VaultPolicy, guardian: str, beneficiary: str
) -> Contract:
    """Another RiskVault over the stack's verifier, price book and margin token (admin: the
    stack's admin)."""
    wiring = (stack.verifier, stack.price_book, stack.margin_token)
    admin = (
        stack.chain.account.address
        if stack.governance is None
        else str(stack.governance.timelock.address)
    )
    return _deploy_vault(
        stack.chain, stack.compiled["RiskVault"], wiring,
        policy=policy, admin=admin, guardian=guardian, beneficiary=beneficiary,
    )  # fmt: skip


def _deploy_vault(
    chain: ChainClient,
    compiled: CompiledContract,
    wiring: tuple[Contract, Contract, Contract],
    *,
    policy: VaultPolicy,
    admin: str,
    guardian: str,
    beneficiary: str,
) -> Contract:
    verifier, price_book, token = wiring
    components = _ctor_components(compiled.abi, "policy")
    return chain.deploy(
        compiled, verifier.address, price_book.address, token.address, admin,
        ADMIN_TRANSFER_DELAY, guardian, beneficiary, policy.abi_tuple(components),
    )  # fmt: skip


def _secondary_feed(
    chain: ChainClient, compiled: dict[str, CompiledContract], item: ListedAsset
) -> Contract | None:
    abi = compiled["MockAggregator"].abi
    if item.secondary_feed is not None:
        return at(chain, item.secondary_feed, abi)
    if item.secondary_price is None:
        return None
    feed = chain.deploy(
        compiled["MockAggregator"], item.feed_decimals, f"{item.asset.symbol} / USD (secondary)"
    )
    chain.transact(feed.functions.setAnswer(feed_answer(item.secondary_price, item.feed_decimals)))
    return feed


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
