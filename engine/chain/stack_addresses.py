"""The addresses file of a whole demo stack (`zkrisk demo --fork-url URL --addresses FILE`): the
market that exists on a chain — tokens, Chainlink-style USD feeds, Uniswap v2 pools — and
optionally the vault stack deployed over it.

    {"uniswap": {…UniswapAddresses: factory, router, weth, quote, tokens, pairs…},
     "feeds": {"USDC": "0x…", "WETH": "0x…", "WBTC": "0x…"},
     "vault": {…the DeploymentRecord `zkrisk chain deploy` writes…} | null}

The tokens are the Uniswap file's (one list, not two); the vault's record is the one of
build/deployments/<chainId>.json. `zkrisk chain deploy --uniswap --addresses-out FILE` writes
it. Every entry is checked on the node before use (`verify_market`, `verify_vault`): a wrong
one is a StackAddressError naming its key in the file and what was found at the address.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from eth_utils.address import to_checksum_address
from pydantic import BaseModel, ConfigDict, ValidationError
from web3 import Web3

from ..risk.models import Asset
from .deployments import DeploymentRecord
from .solidity import CompiledContract
from .uniswap_deploy import UniswapAddressError, UniswapAddresses, verify_addresses


class StackAddressError(ValueError):
    """An addresses file that is missing an entry or names an address that is not what it says."""


class StackAddresses(BaseModel):
    """A demo stack on one chain: the file behind `zkrisk demo --addresses`."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    uniswap: UniswapAddresses
    """Uniswap v2 factory, router, pairs, and the tokens (symbol → ERC-20, decimals)."""
    feeds: dict[str, str]
    """Symbol → its primary Chainlink-style USD feed (AggregatorV3Interface)."""
    vault: DeploymentRecord | None = None
    """The vault stack over these tokens and feeds; None: the demo deploys one (on the fork)."""

    @property
    def chain_id(self) -> int:
        return self.uniswap.chain_id


def save_stack_addresses(addresses: StackAddresses, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(addresses.model_dump(mode="json"), indent=2) + "\n")
    return path


def load_stack_addresses(path: Path) -> StackAddresses:
    """The file at `path`; StackAddressError naming the file and every bad key otherwise."""
    if not path.is_file():
        raise StackAddressError(
            f"no addresses file at {path}: write one with `zkrisk chain deploy --uniswap "
            f"--addresses-out {path}` on the chain you fork"
        )
    try:
        return StackAddresses.model_validate_json(path.read_text())
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
            for e in exc.errors()
        ]
        raise StackAddressError(f"{path}: " + "; ".join(problems)) from None


# ------------------------------------------------------------------ checks on the node

_VIEW: list[dict[str, Any]] = [
    {"type": "function", "name": name, "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": kind}]}
    for name, kind in (("symbol", "string"), ("decimals", "uint8"), ("description", "string"),
                       ("token0", "address"))
] + [
    {"type": "function", "name": "latestRoundData", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": n, "type": t} for n, t in (("roundId", "uint80"), ("answer", "int256"),
                 ("startedAt", "uint256"), ("updatedAt", "uint256"),
                 ("answeredInRound", "uint80"))]},
]  # fmt: skip
"""The views the checks read (ERC-20, AggregatorV3Interface, Uniswap v2 pair)."""


def _try(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception:  # a revert, a short return: the caller says what it expected
        return None


def describe(w3: Web3, address: str) -> str:
    """What is at `address`, as far as the views tell (for error messages)."""
    contract = w3.eth.contract(address=to_checksum_address(address), abi=_VIEW)
    code = w3.eth.get_code(contract.address)
    if not code:
        return "no contract code"
    if (token0 := _try(contract.functions.token0().call)) is not None:
        return f"a Uniswap v2 pair (token0 {token0})"
    if (feed := _try(contract.functions.description().call)) is not None and _try(
        contract.functions.latestRoundData().call
    ):
        return f"the price feed {feed!r}"
    symbol = _try(contract.functions.symbol().call)
    decimals = _try(contract.functions.decimals().call)
    if symbol is not None and decimals is not None:
        return f"the ERC-20 {symbol!r} ({decimals} decimals)"
    return f"a contract of {len(code):,} bytes that is neither a token, a feed nor a pair"


def _addresses_of(addresses: StackAddresses) -> dict[str, str]:
    uni = addresses.uniswap
    named = {"uniswap.factory": uni.factory, "uniswap.router": uni.router, "uniswap.weth": uni.weth}
    named |= {f"uniswap.tokens.{s}": t.address for s, t in uni.tokens.items()}
    named |= {f"uniswap.pairs.{s}": p for s, p in uni.pairs.items()}
    named |= {f"feeds.{s}": f for s, f in addresses.feeds.items()}
    return named


def _require_code(w3: Web3, where: str, named: dict[str, str]) -> None:
    chain_id = int(w3.eth.chain_id)
    for key, address in named.items():
        if not Web3.is_address(address):
            raise StackAddressError(f"{where}: {key} = {address!r} is not an address")
        if not w3.eth.get_code(to_checksum_address(address)):
            raise StackAddressError(
                f"{where}: {key} = {address} has no contract code on chain {chain_id}: point it "
                "at the deployed contract"
            )


def verify_market(w3: Web3, addresses: StackAddresses, assets: Sequence[Asset], *,
                  where: str) -> None:  # fmt: skip
    """Tokens, feeds and pools of `assets` (slot order, the first is the quote) are on `w3`'s
    chain and are what the file says they are."""
    chain_id = int(w3.eth.chain_id)
    if addresses.chain_id != chain_id:
        raise StackAddressError(
            f"{where}: uniswap.chain_id {addresses.chain_id} but the node is chain {chain_id}"
        )
    uni = addresses.uniswap
    wanted = [f"uniswap.tokens.{a.symbol}" for a in assets]
    wanted += [f"feeds.{a.symbol}" for a in assets]
    wanted += [f"uniswap.pairs.{a.symbol}" for a in assets if a.symbol != uni.quote]
    named = _addresses_of(addresses)
    missing = [key for key in wanted if key not in named]
    if missing:
        raise StackAddressError(
            f"{where}: {', '.join(missing)} missing: the demo trades and lists "
            f"{', '.join(a.symbol for a in assets)} (quote {uni.quote}); add the address(es)"
        )
    _require_code(w3, where, named)
    for asset in assets:
        _check_token(w3, where, asset, uni)
        _check_feed(w3, where, asset.symbol, addresses.feeds[asset.symbol])
    try:
        verify_addresses(w3, uni, where=f"{where}: uniswap")  # router, factory, pairs
    except UniswapAddressError as exc:
        raise StackAddressError(str(exc)) from None


def _check_token(w3: Web3, where: str, asset: Asset, uni: UniswapAddresses) -> None:
    key, record = f"uniswap.tokens.{asset.symbol}", uni.tokens[asset.symbol]
    token = w3.eth.contract(address=to_checksum_address(record.address), abi=_VIEW)
    symbol = _try(token.functions.symbol().call)
    decimals = _try(token.functions.decimals().call)
    if symbol is None or decimals is None:
        raise StackAddressError(
            f"{where}: {key} = {record.address} is not an ERC-20 (symbol()/decimals() failed); "
            f"found there: {describe(w3, record.address)}"
        )
    if symbol != asset.symbol:
        raise StackAddressError(
            f"{where}: {key} = {record.address} is the ERC-20 {symbol!r}, not {asset.symbol}"
        )
    if decimals != record.decimals or decimals != asset.decimals:
        raise StackAddressError(
            f"{where}: {key} = {record.address} has {decimals} decimals; the file says "
            f"{record.decimals} and the demo's {asset.symbol} has {asset.decimals}"
        )


def _check_feed(w3: Web3, where: str, symbol: str, address: str) -> None:
    feed = w3.eth.contract(address=to_checksum_address(address), abi=_VIEW)
    decimals = _try(feed.functions.decimals().call)
    latest = _try(feed.functions.latestRoundData().call)
    if decimals is None or latest is None:
        raise StackAddressError(
            f"{where}: feeds.{symbol} = {address} is not a price feed (decimals()/"
            f"latestRoundData() failed); found there: {describe(w3, address)}"
        )
    if not 0 <= decimals <= 36 or latest[1] <= 0 or latest[3] == 0:
        raise StackAddressError(
            f"{where}: feeds.{symbol} = {address} answers {latest[1]} ({decimals} decimals, "
            f"updated at {latest[3]}): not a live USD price"
        )


def verify_vault(w3: Web3, addresses: StackAddresses, assets: Sequence[Asset],
                 compiled: dict[str, CompiledContract], *, where: str) -> None:  # fmt: skip
    """The vault record's contracts are on the chain and wired to each other and to the file's
    tokens and feeds (RiskVault → PriceBook, verifier; PriceBook → Poseidon, each slot's token
    and feed; governance → the timelock holds the admin role, the Safe's owners and threshold)."""
    record = addresses.vault
    assert record is not None
    chain_id = int(w3.eth.chain_id)
    if record.chain_id != chain_id:
        raise StackAddressError(f"{where}: vault.chain_id {record.chain_id} but the node is "
                                f"chain {chain_id}")  # fmt: skip
    verifier_name = record.circuit[:1].upper() + record.circuit[1:] + "Verifier"
    names = ["Poseidon5", "PriceBook", verifier_name, "RiskVault"]
    if record.governance is not None:
        names += ["Safe", "TimelockController"]
    missing = [f"vault.contracts.{n}" for n in names if n not in record.contracts]
    if missing:
        raise StackAddressError(f"{where}: {', '.join(missing)} missing")
    _require_code(w3, where, {f"vault.contracts.{n}": record.contracts[n] for n in names})
    symbols = [a.symbol for a in record.assets]
    if symbols != [a.symbol for a in assets]:
        raise StackAddressError(
            f"{where}: vault.assets list {', '.join(symbols)}; the demo's book needs "
            f"{', '.join(a.symbol for a in assets)} in that slot order"
        )
    for i, listed in enumerate(record.assets):
        for field, mine, theirs, key in (
            ("token", listed.token, addresses.uniswap.tokens[listed.symbol].address,
             f"uniswap.tokens.{listed.symbol}"),
            ("feed", listed.feed, addresses.feeds[listed.symbol], f"feeds.{listed.symbol}"),
        ):  # fmt: skip
            if mine.lower() != theirs.lower():
                raise StackAddressError(
                    f"{where}: vault.assets[{i}].{field} = {mine} but {key} = {theirs}: one "
                    "stack, one address"
                )
    contract = _contracts(w3, record.contracts, compiled)
    vault, book = contract("RiskVault"), contract("PriceBook")
    links = (
        ("RiskVault", vault, "priceBook", "PriceBook"),
        ("RiskVault", vault, "verifier", verifier_name),
        ("PriceBook", book, "poseidon", "Poseidon5"),
    )
    for owner, handle, getter, name in links:
        found = _try(handle.functions[getter]().call)
        if found is None:
            raise StackAddressError(
                f"{where}: vault.contracts.{owner} = {handle.address} is not a {owner} "
                f"({getter}() failed); found there: {describe(w3, handle.address)}"
            )
        if str(found).lower() != record.contracts[name].lower():
            raise StackAddressError(
                f"{where}: vault.contracts.{name} = {record.contracts[name]} but the {owner}'s "
                f"{getter}() is {found}"
            )
    for i, listed in enumerate(record.assets):
        found = _try(book.functions.listing(i).call)  # None: the book lists no slot i
        token, feed = (None, None) if found is None else (str(found[0]), str(found[1][0]))
        if token is None or token.lower() != listed.token.lower():
            raise StackAddressError(f"{where}: vault.assets[{i}].token = {listed.token} but the "
                                    f"PriceBook lists {token} in slot {i}")  # fmt: skip
        if str(feed).lower() != listed.feed.lower():
            raise StackAddressError(f"{where}: vault.assets[{i}].feed = {listed.feed} but the "
                                    f"PriceBook reads {feed} for slot {i}")  # fmt: skip
    if record.governance is not None:
        _verify_governance(record, contract, where)


def _contracts(
    w3: Web3, contracts: dict[str, str], compiled: dict[str, CompiledContract]
) -> Callable[[str], Any]:
    def handle(name: str) -> Any:
        return w3.eth.contract(address=to_checksum_address(contracts[name]),
                               abi=compiled[name].abi)  # fmt: skip

    return handle


def _verify_governance(record: DeploymentRecord, contract: Callable[[str], Any],
                       where: str) -> None:  # fmt: skip
    gov = record.governance
    assert gov is not None
    vault, safe, timelock = contract("RiskVault"), contract("Safe"), contract("TimelockController")
    admin = vault.functions.DEFAULT_ADMIN_ROLE().call()
    if not _try(lambda: vault.functions.hasRole(admin, timelock.address).call()):
        raise StackAddressError(
            f"{where}: vault.contracts.TimelockController = {timelock.address} is not the "
            "RiskVault's admin"
        )
    owners = _try(safe.functions.getOwners().call)
    if owners is None:
        raise StackAddressError(f"{where}: vault.contracts.Safe = {safe.address} is not a Safe "
                                "(getOwners() failed)")  # fmt: skip
    if {str(o).lower() for o in owners} != {o.lower() for o in gov.owners}:
        raise StackAddressError(f"{where}: vault.governance.owners are {', '.join(gov.owners)} "
                                f"but the Safe's are {', '.join(owners)}")  # fmt: skip
    threshold = int(safe.functions.getThreshold().call())
    if threshold != gov.threshold:
        raise StackAddressError(f"{where}: vault.governance.threshold = {gov.threshold} but the "
                                f"Safe's is {threshold}")  # fmt: skip
    delay = int(timelock.functions.getMinDelay().call())
    if delay != gov.delay:
        raise StackAddressError(f"{where}: vault.governance.delay = {gov.delay} but the "
                                f"timelock's minimum delay is {delay} s")  # fmt: skip
