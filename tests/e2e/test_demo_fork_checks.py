"""Every check the fork demo makes on its addresses file, on a real fork of a real stack (the
source of tests/e2e/conftest.py): each spoiled entry is refused with a StackAddressError naming
its key and what is at the address, before anything is sent; state the story cannot use (other
Safe owners, another guardian or policy, tokens and feeds that are not mocks) is refused too.
In-process: the demo's CLI run is tests/e2e/test_demo_fork.py."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import Web3

from zkrisk.engine.chain.anvil import DEV_GUARDIAN, DEV_PRIVATE_KEYS, AnvilNode, start_anvil
from zkrisk.engine.chain.client import ChainClient
from zkrisk.engine.chain.governance import compile_governance_contracts
from zkrisk.engine.chain.solidity import compile_sources
from zkrisk.engine.chain.stack_addresses import StackAddressError, StackAddresses
from zkrisk.engine.chain.uniswap_deploy import deploy_uniswap
from zkrisk.engine.chain.vault_deploy import compile_vault_contracts
from zkrisk.engine.demo_fork import FUNDED_ACCOUNTS, FUNDING_WEI, ForkStack, open_fork_stack
from zkrisk.engine.keeper.vault_access import circuit_artifacts
from zkrisk.engine.paths import repo_root
from zkrisk.prover.artifacts import CircuitArtifacts

from .conftest import ForkSource, dev_address

Data = dict[str, Any]
WHERE = "stack.json"


@pytest.fixture(scope="module")
def fork(fork_source: ForkSource) -> Iterator[AnvilNode]:
    node = start_anvil(fork_url=fork_source.node.url)
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def chain(fork: AnvilNode) -> Iterator[ChainClient]:
    """The fork, rolled back after each test (evm_snapshot / evm_revert)."""
    client = ChainClient.connect(fork.url, DEV_PRIVATE_KEYS[0])
    snapshot = client.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    yield client
    client.w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def artifacts() -> CircuitArtifacts:
    return circuit_artifacts("health4")


def opened(chain: ChainClient, artifacts: CircuitArtifacts, data: Data) -> ForkStack:
    return open_fork_stack(chain, artifacts, StackAddresses.model_validate(data), where=WHERE,
                           url="fork", timelock_delay=3_600)  # fmt: skip


def refusal(chain: ChainClient, artifacts: CircuitArtifacts, data: Data) -> str:
    with pytest.raises(StackAddressError) as caught:
        opened(chain, artifacts, data)
    return str(caught.value)


# ------------------------------------------------------------------ spoiled files


def _tokens(d: Data) -> Data:
    tokens: Data = d["uniswap"]["tokens"]
    return tokens


def _wrong_chain(a: Data, chain: ChainClient) -> str:
    a["uniswap"]["chain_id"] = 1
    return "uniswap.chain_id 1 but the node is chain 31337"


def _not_an_address(a: Data, chain: ChainClient) -> str:
    a["feeds"]["WBTC"] = "0x12"
    return "feeds.WBTC = '0x12' is not an address"


def _a_feed_at_a_token_key(a: Data, chain: ChainClient) -> str:
    _tokens(a)["WETH"]["address"] = a["feeds"]["WETH"]
    return (f"uniswap.tokens.WETH = {a['feeds']['WETH']} is not an ERC-20 (symbol()/decimals() "
            "failed); found there: the price feed 'WETH / USD'")  # fmt: skip


def _another_token(a: Data, chain: ChainClient) -> str:
    _tokens(a)["WETH"]["address"] = wbtc = _tokens(a)["WBTC"]["address"]
    return f"uniswap.tokens.WETH = {wbtc} is the ERC-20 'WBTC', not WETH"


def _other_decimals(a: Data, chain: ChainClient) -> str:
    _tokens(a)["WETH"]["decimals"] = 8
    return "has 18 decimals; the file says 8 and the demo's WETH has 18"


def _a_pool_of_other_tokens(a: Data, chain: ChainClient) -> str:
    a["uniswap"]["pairs"]["WETH"] = pair = a["uniswap"]["pairs"]["WBTC"]
    return f"{WHERE}: uniswap: pairs.WETH = {pair} pairs"


def _vault_of_another_chain(a: Data, chain: ChainClient) -> str:
    a["vault"]["chain_id"] = 1
    return "vault.chain_id 1 but the node is chain 31337"


def _no_price_book(a: Data, chain: ChainClient) -> str:
    del a["vault"]["contracts"]["PriceBook"]
    return "vault.contracts.PriceBook missing"


def _slots_out_of_order(a: Data, chain: ChainClient) -> str:
    assets = a["vault"]["assets"]
    assets[1], assets[2] = assets[2], assets[1]
    return "vault.assets list USDC, WBTC, WETH; the demo's book needs USDC, WETH, WBTC"


def _two_feeds_for_one_asset(a: Data, chain: ChainClient) -> str:
    a["vault"]["assets"][1]["feed"] = other = a["feeds"]["WBTC"]
    return f"vault.assets[1].feed = {other} but feeds.WETH = {a['feeds']['WETH']}"


def _a_price_book_as_the_vault(a: Data, chain: ChainClient) -> str:
    contracts = a["vault"]["contracts"]
    contracts["RiskVault"] = book = contracts["PriceBook"]
    return f"vault.contracts.RiskVault = {book} is not a RiskVault (priceBook() failed)"


def _another_verifier(a: Data, chain: ChainClient) -> str:
    contracts = a["vault"]["contracts"]
    contracts["Health4Verifier"] = poseidon = contracts["Poseidon5"]
    return f"vault.contracts.Health4Verifier = {poseidon} but the RiskVault's verifier() is"


def _another_poseidon(a: Data, chain: ChainClient) -> str:
    contracts = a["vault"]["contracts"]
    contracts["Poseidon5"] = contracts["Health4Verifier"]
    return f"vault.contracts.Poseidon5 = {contracts['Poseidon5']} but the PriceBook's poseidon()"


def _another_market(a: Data, chain: ChainClient) -> str:
    """Tokens and pools of another deployment (on the fork), the vault's record edited to match."""
    listed = _tokens(a)["USDC"]["address"]
    other = deploy_uniswap(chain).addresses
    a["uniswap"] = other.model_dump(mode="json")
    for asset in a["vault"]["assets"]:
        asset["token"] = other.tokens[asset["symbol"]].address
    return (f"vault.assets[0].token = {other.tokens['USDC'].address} but the PriceBook lists "
            f"{listed} in slot 0")  # fmt: skip


def _another_feed(a: Data, chain: ChainClient) -> str:
    """A live USDC feed the price book does not read (deployed on the fork)."""
    listed = a["feeds"]["USDC"]
    compiled = compile_vault_contracts(circuit_artifacts("health4"))["MockAggregator"]
    feed = chain.deploy(compiled, 8, "USDC / USD")
    chain.transact(feed.functions.setAnswer(10**8))
    a["feeds"]["USDC"] = a["vault"]["assets"][0]["feed"] = str(feed.address)
    return f"vault.assets[0].feed = {feed.address} but the PriceBook reads {listed} for slot 0"


def _another_timelock(a: Data, chain: ChainClient) -> str:
    contracts = a["vault"]["contracts"]
    contracts["TimelockController"] = safe = contracts["Safe"]
    return f"vault.contracts.TimelockController = {safe} is not the RiskVault's admin"


def _a_token_as_the_safe(a: Data, chain: ChainClient) -> str:
    a["vault"]["contracts"]["Safe"] = usdc = _tokens(a)["USDC"]["address"]
    return f"vault.contracts.Safe = {usdc} is not a Safe (getOwners() failed)"


def _other_owners(a: Data, chain: ChainClient) -> str:
    a["vault"]["governance"]["owners"] = [dev_address(i) for i in (1, 2, 3)]
    return "vault.governance.owners are"


def _another_threshold(a: Data, chain: ChainClient) -> str:
    a["vault"]["governance"]["threshold"] = 3
    return "vault.governance.threshold = 3 but the Safe's is 2"


def _another_delay(a: Data, chain: ChainClient) -> str:
    a["vault"]["governance"]["delay"] = 60
    return "vault.governance.delay = 60 but the timelock's minimum delay is 3600 s"


def _another_circuit(a: Data, chain: ChainClient) -> str:
    a["vault"]["circuit"] = "health8"
    return "vault.circuit = 'health8': the demo proves with health4"


def _no_governance(a: Data, chain: ChainClient) -> str:
    a["vault"]["governance"] = None
    return "vault.governance is null"


SPOILERS = [
    _wrong_chain, _not_an_address, _a_feed_at_a_token_key, _another_token, _other_decimals,
    _a_pool_of_other_tokens, _vault_of_another_chain, _no_price_book, _slots_out_of_order,
    _two_feeds_for_one_asset, _a_price_book_as_the_vault, _another_verifier, _another_poseidon,
    _another_market, _another_feed, _another_timelock, _a_token_as_the_safe,
    _other_owners, _another_threshold, _another_delay, _another_circuit, _no_governance,
]  # fmt: skip


@pytest.mark.parametrize("spoil", SPOILERS, ids=lambda f: f.__name__.strip("_"))
def test_a_spoiled_entry_is_refused_naming_its_key_before_anything_is_sent(
    fork_source: ForkSource,
    chain: ChainClient,
    artifacts: CircuitArtifacts,
    spoil: Callable[[Data, ChainClient], str],
) -> None:
    a = fork_source.data()
    expected = spoil(a, chain)
    block = chain.w3.eth.block_number
    message = refusal(chain, artifacts, a)
    assert message.startswith(f"{WHERE}: ") and expected in message, message
    assert chain.w3.eth.block_number == block  # nothing sent


# ------------------------------------------------------------------ state the story cannot use


def _send_as(w3: Web3, sender: str, to: str, data: str) -> None:
    """A transaction from `sender` without its key (anvil_impersonateAccount, on the fork)."""
    w3.provider.make_request("anvil_impersonateAccount", [sender])  # type: ignore[arg-type]
    w3.provider.make_request("anvil_setBalance", [sender, hex(10**20)])  # type: ignore[arg-type]
    tx = w3.eth.send_transaction({"from": sender, "to": to, "data": data})  # type: ignore[typeddict-item]
    assert w3.eth.wait_for_transaction_receipt(tx)["status"] == 1


def test_the_file_attaches_to_the_stack_and_funds_the_dev_accounts_on_the_fork(
    fork_source: ForkSource, chain: ChainClient, artifacts: CircuitArtifacts
) -> None:
    data = fork_source.data()
    fork = opened(chain, artifacts, data)
    assert fork.stack.vault.address == data["vault"]["contracts"]["RiskVault"]
    assert fork.uniswap.router.address == data["uniswap"]["router"]
    assert {s: f.address for s, f in fork.stack.feeds.items()} == data["feeds"]
    for i in FUNDED_ACCOUNTS:
        assert chain.w3.eth.get_balance(dev_address(i)) == FUNDING_WEI  # type: ignore[arg-type]
    assert "nothing deployed" in fork.story[0]


def test_a_safe_whose_owners_are_not_dev_accounts_is_refused(
    fork_source: ForkSource, chain: ChainClient, artifacts: CircuitArtifacts
) -> None:
    data = fork_source.data()
    safe_address = data["vault"]["contracts"]["Safe"]
    safe = chain.w3.eth.contract(address=safe_address,
                                 abi=compile_governance_contracts()["SafeL2"].abi)  # fmt: skip
    owners = list(safe.functions.getOwners().call())
    strangers = [Account.create().address for _ in range(2)]
    previous = "0x0000000000000000000000000000000000000001"  # the Safe's owner-list sentinel
    for old, new in zip(owners[:2], strangers, strict=True):
        swap = safe.functions.swapOwner(previous, old, new)._encode_transaction_data()
        _send_as(chain.w3, safe_address, safe_address, swap)
        previous = new
    data["vault"]["governance"]["owners"] = [*strangers, owners[2]]
    message = refusal(chain, artifacts, data)
    assert "vault.governance.owners: the demo signs the Safe's transactions with 2 owners' keys, " \
           "but only 1 of" in message  # fmt: skip


def test_a_vault_whose_guardian_is_not_the_dev_guardian_is_refused(
    fork_source: ForkSource, chain: ChainClient, artifacts: CircuitArtifacts
) -> None:
    data = fork_source.data()
    vault = opened(chain, artifacts, data).stack.vault
    role = vault.functions.GUARDIAN_ROLE().call()
    revoke = vault.functions.revokeRole(role, dev_address(DEV_GUARDIAN))._encode_transaction_data()
    _send_as(chain.w3, data["vault"]["contracts"]["TimelockController"], vault.address, revoke)
    message = refusal(chain, artifacts, data)
    assert (
        f"vault.governance.guardian: the demo pauses the vault as Anvil's dev account {DEV_GUARDIAN}"
        in message
    )


def test_a_vault_with_another_policy_than_the_scenarios_is_refused(
    fork_source: ForkSource, chain: ChainClient, artifacts: CircuitArtifacts
) -> None:
    data = fork_source.data()
    client = opened(chain, artifacts, data).stack.client()
    stricter = replace(client.policy(), min_health_bps=11_000)
    call = client.set_policy_call(stricter)._encode_transaction_data()
    _send_as(chain.w3, data["vault"]["contracts"]["TimelockController"], client.address, call)
    assert "has another policy than the dev scenario's" in refusal(chain, artifacts, data)


def test_a_feed_without_a_live_answer_is_refused(
    fork_source: ForkSource, chain: ChainClient, artifacts: CircuitArtifacts
) -> None:
    data = fork_source.data()
    compiled = compile_vault_contracts(artifacts)["MockAggregator"]
    feed = chain.w3.eth.contract(address=data["feeds"]["WETH"], abi=compiled.abi)
    chain.transact(feed.functions.setAnswer(0))
    message = refusal(chain, artifacts, data)
    assert f"feeds.WETH = {feed.address} answers 0 (18 decimals, updated at" in message
    assert message.endswith("not a live USD price")


NOT_MOCKS = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// The right symbol and decimals, but no mint: not the project's mock.
contract FixedToken {
    function symbol() external pure returns (string memory) { return "USDC"; }
    function decimals() external pure returns (uint8) { return 6; }
    function balanceOf(address) external pure returns (uint256) { return 0; }
}

/// A live answer, but no setAnswer: not the project's mock.
contract FixedFeed {
    function decimals() external pure returns (uint8) { return 18; }
    function description() external pure returns (string memory) { return "ETH / USD"; }
    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        return (1, 3000e18, block.timestamp, block.timestamp, 1);
    }
}
"""


def _replace_code(chain: ChainClient, tmp: Path, name: str, address: str) -> None:
    """Put `name`'s runtime code at `address` on the fork (anvil_setCode)."""
    source = tmp / "NotMocks.sol"
    source.write_text(NOT_MOCKS)
    compiled = compile_sources({"NotMocks.sol": source}, base=tmp,
                               cache=repo_root() / "build" / "solc")[name]  # fmt: skip
    deployed = chain.deploy(compiled)
    code = chain.w3.eth.get_code(deployed.address)
    chain.w3.provider.make_request("anvil_setCode", [address, "0x" + code.hex()])  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "key", "expected"), [
    ("FixedToken", "uniswap.tokens.USDC", "does not mint: the demo funds its accounts by minting"),
    ("FixedFeed", "feeds.WETH", "takes no setAnswer(): the story crashes prices"),
])  # fmt: skip
def test_a_token_or_feed_that_is_not_a_mock_is_refused_naming_it(
    fork_source: ForkSource, chain: ChainClient, artifacts: CircuitArtifacts, tmp_path: Path,
    name: str, key: str, expected: str,
) -> None:  # fmt: skip
    data = fork_source.data()
    section, symbol = key.rsplit(".", 1)
    entry = data["feeds"][symbol] if section == "feeds" else _tokens(data)[symbol]["address"]
    _replace_code(chain, tmp_path, name, entry)
    message = refusal(chain, artifacts, data)
    assert f"{key} = {entry} {expected}" in message, message


def test_an_addresses_file_round_trips_through_json(fork_source: ForkSource) -> None:
    loaded = StackAddresses.model_validate_json(fork_source.stack.read_text())
    assert json.loads(loaded.model_dump_json()) == fork_source.data()
