"""Fork mode of the demo (`zkrisk demo --fork-url URL --addresses FILE`): the story runs on the
tokens, price feeds, Uniswap pools — and vault stack, if the file has one — that already exist
on the forked chain, instead of fresh mocks.

Every address of the file is checked on the fork first (engine/chain/stack_addresses.py); a file
without a vault gets one deployed on the fork over its tokens and feeds. What the story needs that
the fork does not give is arranged on the fork only and said: ether for the dev accounts
(anvil_setBalance), the scenario's calm prices (the feeds must be mocks: the story crashes them),
the desk's margin (minted: the margin token must be a mock). The vault's governance must be
signable with Anvil's dev keys (its Safe owners and guardian), as `zkrisk chain deploy` makes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from web3.contract import Contract

from zkrisk.prover.artifacts import CircuitArtifacts

from .chain import dev_scenario as scenario
from .chain.anvil import DEV_GUARDIAN, DEV_OWNERS, DEV_PRIVATE_KEYS
from .chain.client import ChainClient
from .chain.governance import Governance, compile_governance_contracts, deploy_governance
from .chain.pinned_setup import pinned_artifacts
from .chain.solidity import CompiledContract
from .chain.stack_addresses import (
    StackAddressError,
    StackAddresses,
    load_stack_addresses,
    verify_market,
    verify_vault,
)
from .chain.uniswap_deploy import UniswapDeployment, attach_uniswap
from .chain.vault_deploy import VaultStack, at, compile_vault_contracts, deploy_vault_stack
from .chain.vault_types import ListedAsset, feed_answer

#: Dev accounts the story signs with: deployer, desk, keeper, griefer / thief, guardian.
FUNDED_ACCOUNTS = (0, 1, 2, 3, DEV_GUARDIAN)
FUNDING_WEI = 1_000 * 10**18


@dataclass(frozen=True)
class ForkStack:
    """The stack the demo runs on, and what it says about where it came from."""

    stack: VaultStack
    uniswap: UniswapDeployment
    story: tuple[str, ...]


def open_fork_stack(
    chain: ChainClient,
    artifacts: CircuitArtifacts,
    addresses: StackAddresses,
    *,
    where: str,
    url: str,
    timelock_delay: int,
) -> ForkStack:
    """Check `addresses` (read from `where`) on the fork behind `chain`, attach to its vault or
    deploy one over its tokens and feeds, and prepare the dev accounts and prices."""
    verify_market(chain.w3, addresses, scenario.ASSETS, where=where)
    uniswap = attach_uniswap(chain, addresses.uniswap)
    first = int(chain.w3.eth.block_number)
    if addresses.vault is None:
        stack = _deploy_over(chain, artifacts, addresses, timelock_delay)
    else:
        stack = _attach_vault(chain, artifacts, addresses, where)
    gas = sum(int(chain.w3.eth.get_block(n)["gasUsed"]) for n in range(first + 1, stack.block + 1))
    _require_mocks(chain, stack, where)
    for symbol, price in scenario.CALM.items():
        stack.set_price(symbol, price)
    for account in FUNDED_ACCOUNTS:
        address = Account.from_key(DEV_PRIVATE_KEYS[account]).address
        chain.w3.provider.make_request("anvil_setBalance", [address, hex(FUNDING_WEI)])  # type: ignore[arg-type]
    return ForkStack(stack, uniswap, _story(stack, uniswap, addresses, where, url, gas))


def _deploy_over(
    chain: ChainClient, artifacts: CircuitArtifacts, addresses: StackAddresses, delay: int
) -> VaultStack:
    """The demo's vault stack, deployed on the fork over the file's tokens and feeds."""
    owner_keys = [DEV_PRIVATE_KEYS[i] for i in DEV_OWNERS]
    owners = [chain.with_key(k).account.address for k in owner_keys]
    guardian = chain.with_key(DEV_PRIVATE_KEYS[DEV_GUARDIAN]).account.address
    governance = deploy_governance(chain, owners=owners, threshold=2, min_delay=delay)
    listed = tuple(
        ListedAsset(asset=a, token=addresses.uniswap.tokens[a.symbol].address,
                    feed=addresses.feeds[a.symbol])
        for a in scenario.ASSETS
    )  # fmt: skip
    return deploy_vault_stack(
        chain, artifacts, listed=listed, policy=scenario.POLICY, governance=governance,
        owner_keys=owner_keys[:2], guardian=guardian,
    )  # fmt: skip


def _attach_vault(
    chain: ChainClient, built: CircuitArtifacts, addresses: StackAddresses, where: str
) -> VaultStack:
    record = addresses.vault
    assert record is not None
    if record.circuit != built.spec.name:
        raise StackAddressError(
            f"{where}: vault.circuit = {record.circuit!r}: the demo proves with {built.spec.name}"
        )
    artifacts = pinned_artifacts(record.circuit, record.setup_pin, deployment=f"{where} (vault)")
    compiled = compile_vault_contracts(artifacts)
    governing = compile_governance_contracts()
    for made in (*compiled.values(), *governing.values()):
        chain.errors.register(made.abi)
    abis = compiled | {
        "Safe": governing["SafeL2"],
        "TimelockController": governing["TimelockController"],
    }
    verify_vault(chain.w3, addresses, scenario.ASSETS, abis, where=where)
    contract = _handles(chain, record.contracts, abis)
    vault = contract("RiskVault")
    governance, owner_keys = _governance(chain, addresses, contract, where)
    guardian = Account.from_key(DEV_PRIVATE_KEYS[DEV_GUARDIAN]).address
    if not vault.functions.hasRole(vault.functions.GUARDIAN_ROLE().call(), guardian).call():
        raise StackAddressError(
            f"{where}: vault.governance.guardian: the demo pauses the vault as Anvil's dev "
            f"account {DEV_GUARDIAN} ({guardian}), which is not the RiskVault's guardian"
        )
    mock_feed, mock_token = compiled["MockAggregator"].abi, compiled["MockERC20"].abi
    stack = VaultStack(
        chain=chain,
        compiled=compiled,
        circuit=record.circuit,
        dev_ptau=record.dev_ptau,
        poseidon=at(chain, record.contracts["Poseidon5"], []),  # only its address is used
        price_book=contract("PriceBook"),
        verifier=at(chain, record.contracts[_verifier_name(record.circuit)],
                    compiled[artifacts.spec.contract_name].abi),
        vault=vault,
        assets=scenario.ASSETS,
        tokens={a.symbol: at(chain, a.token, mock_token) for a in record.assets},
        feeds={a.symbol: at(chain, a.feed, mock_feed) for a in record.assets},
        block=int(chain.w3.eth.block_number),
        artifacts=artifacts,
        secondary_feeds={a.symbol: at(chain, a.secondary_feed, mock_feed)
                         for a in record.assets if a.secondary_feed is not None},
        governance=governance,
        owner_keys=owner_keys,
        guardian=guardian,
    )  # fmt: skip
    if stack.client().policy() != scenario.POLICY:
        raise StackAddressError(
            f"{where}: vault.contracts.RiskVault = {vault.address} has another policy than the "
            "dev scenario's (the story's health factors and limits assume it): deploy it with "
            "`zkrisk chain deploy`, or drop `vault` to let the demo deploy one on the fork"
        )
    return stack


def _verifier_name(circuit: str) -> str:
    return circuit[:1].upper() + circuit[1:] + "Verifier"


def _handles(
    chain: ChainClient, contracts: dict[str, str], abis: dict[str, CompiledContract]
) -> Callable[[str], Contract]:
    def handle(name: str) -> Contract:
        return at(chain, contracts[name], abis[name].abi)

    return handle


def _governance(
    chain: ChainClient, addresses: StackAddresses, contract: Callable[[str], Contract], where: str
) -> tuple[Governance, tuple[str, ...]]:
    """The vault's Safe and timelock, and the dev keys of enough owners to pass a change."""
    record = addresses.vault
    assert record is not None
    gov = record.governance
    if gov is None:
        raise StackAddressError(
            f"{where}: vault.governance is null: the demo passes a policy change through a Safe "
            "and a timelock; deploy the vault with `zkrisk chain deploy --owners …`, or drop "
            "`vault` to let the demo deploy one on the fork"
        )
    dev = {Account.from_key(k).address.lower(): k for k in DEV_PRIVATE_KEYS}
    keys = tuple(dev[o.lower()] for o in gov.owners if o.lower() in dev)[: gov.threshold]
    if len(keys) < gov.threshold:
        raise StackAddressError(
            f"{where}: vault.governance.owners: the demo signs the Safe's transactions with "
            f"{gov.threshold} owners' keys, but only {len(keys)} of {', '.join(gov.owners)} are "
            "Anvil dev accounts: drop `vault` to let the demo deploy one on the fork"
        )
    governance = Governance(chain, contract("Safe"), contract("TimelockController"),
                            tuple(gov.owners), gov.threshold, gov.delay)  # fmt: skip
    return governance, keys


def _require_mocks(chain: ChainClient, stack: VaultStack, where: str) -> None:
    """The story mints the desk's margin and crashes prices: the tokens and feeds must be the
    project's mocks (probed with calls, nothing sent)."""
    me = chain.account.address
    for symbol, token in stack.tokens.items():
        if not _succeeds(token.functions.mint(me, 1), me):
            raise StackAddressError(
                f"{where}: uniswap.tokens.{symbol} = {token.address} does not mint: the demo "
                "funds its accounts by minting, which only the mock tokens allow"
            )
    for symbol, feed in stack.feeds.items():
        answer = feed_answer(scenario.CALM[symbol], int(feed.functions.decimals().call()))
        if not _succeeds(feed.functions.setAnswer(answer), me):
            raise StackAddressError(
                f"{where}: feeds.{symbol} = {feed.address} takes no setAnswer(): the story "
                "crashes prices, which only the mock feeds allow"
            )


def _succeeds(fn: Any, sender: str) -> bool:
    try:
        fn.call({"from": sender})
    except Exception:  # reverted or no such function: not a mock
        return False
    return True


def _story(
    stack: VaultStack,
    uniswap: UniswapDeployment,
    addresses: StackAddresses,
    where: str,
    url: str,
    gas: int,
) -> tuple[str, ...]:
    gov = stack.governance
    assert gov is not None
    uni = addresses.uniswap
    admin = (f"admin = the TimelockController {gov.timelock.address} ({gov.min_delay // 3600} h) "
             f"proposed to by the Safe {gov.safe.address} ({gov.threshold}-of-{len(gov.owners)})")  # fmt: skip
    contracts = (f"PriceBook {stack.price_book.address}, {stack.verifier_name} "
                 f"{stack.verifier.address}, RiskVault {stack.vault.address}")  # fmt: skip
    if addresses.vault is None:
        head = (f"2. anvil on {url} (chain {stack.chain.chain_id}): the existing tokens, feeds "
                f"and pools of {where}, checked; deployed over them on the fork (no mock token "
                f"or feed): {contracts}; {admin}, a guardian that can only pause (gas {gas:,})")  # fmt: skip
    else:
        head = (f"2. anvil on {url} (chain {stack.chain.chain_id}): the existing stack of "
                f"{where}, checked — nothing deployed: {contracts}; {admin}")  # fmt: skip
    calm = " / ".join(f"{scenario.CALM[a.symbol]:,}" for a in stack.assets)
    funded = ", ".join(str(i) for i in FUNDED_ACCOUNTS)
    return (
        head,
        "   tokens "
        + ", ".join(f"{s} {t.address}" for s, t in stack.tokens.items())
        + "; feeds "
        + ", ".join(f"{s} {f.address}" for s, f in stack.feeds.items())
        + f"; Uniswap v2 router {uni.router}, pairs "
        + ", ".join(f"{s}/{uni.quote} {p}" for s, p in uni.pairs.items()),
        "   checked: code at every address, the tokens' symbol() and decimals(), the feeds' "
        "latestRoundData(), the pairs' token0/token1 and factory, the vault's links",
        f"   on the fork only: {FUNDING_WEI // 10**18:,} ETH each to dev accounts {funded} "
        f"(anvil_setBalance); the feeds republished at {calm} USD (setAnswer, mock feeds); "
        f"the desk's margin minted by the mock {stack.assets[0].symbol}",
    )


def read_addresses(path: Path, fork_url: str | None) -> StackAddresses:
    """The addresses file for a fork run (checked before anything starts)."""
    if fork_url is None:
        raise ValueError(
            f"--addresses {path} names contracts on the chain the demo forks: add --fork-url URL"
        )
    return load_stack_addresses(path)
